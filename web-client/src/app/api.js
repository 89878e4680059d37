// HTTP client for docs/API.md. Every failure becomes an ApiError carrying the server's stable code.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export const isNetworkError = (e) => e instanceof ApiError && e.code === "network";

export class Api {
  constructor(base = "/api/v1") {
    this.base = base;
    this.token = null;
    this.onUnauthenticated = null;
  }

  async request(method, path, body, { auth = true } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && this.token) headers.Authorization = `Bearer ${this.token}`;
    let res;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (e) {
      throw new ApiError(0, "network", "The server cannot be reached. Check your connection.");
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const err = data && data.error ? data.error : {};
      const e = new ApiError(res.status, err.code || `http_${res.status}`, err.message || res.statusText, err.details);
      if (e.code === "unauthenticated" && auth && this.onUnauthenticated) this.onUnauthenticated(e);
      throw e;
    }
    return data || {};
  }

  get(path, opts) {
    return this.request("GET", path, undefined, opts);
  }
  post(path, body, opts) {
    return this.request("POST", path, body === undefined ? {} : body, opts);
  }
  put(path, body, opts) {
    return this.request("PUT", path, body, opts);
  }
  del(path, opts) {
    return this.request("DELETE", path, undefined, opts);
  }
}
