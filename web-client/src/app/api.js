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
    this.onUnauthenticated = null; // async () => new token; the failed call is retried once with it
  }

  async request(method, path, body, opts = {}) {
    try {
      return await this._request(method, path, body, opts);
    } catch (e) {
      if (e.code !== "unauthenticated" || opts.auth === false || opts.retried || !this.onUnauthenticated) throw e;
      await this.onUnauthenticated();
      return this._request(method, path, body, { ...opts, retried: true });
    }
  }

  async _request(method, path, body, { auth = true } = {}) {
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
      throw new ApiError(res.status, err.code || `http_${res.status}`, err.message || res.statusText, err.details);
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
