// socket.io connection (docs/API.md, "Realtime"). Acks are {ok, result} or {ok: false, error}.
import { io } from "socket.io-client";
import { ApiError } from "./api.js";

export class Realtime extends EventTarget {
  constructor() {
    super();
    this.socket = null;
    this.state = "offline"; // offline | connecting | online
  }

  connect(getToken) {
    this.close();
    const socket = io({
      path: "/socket.io",
      transports: ["websocket"],
      auth: (cb) => cb({ token: getToken() }),
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      timeout: 8000,
    });
    this.socket = socket;
    this._setState("connecting");
    socket.on("connect", () => {
      this._setState("online");
      this.dispatchEvent(new CustomEvent("connected"));
    });
    // The node is stopping (docs/API.md, "server_shutdown"): show "Reconnecting…" at once, and when it then
    // closes the connection reconnect with socket.io's own back-off (to another node, or to this one once
    // it is back) instead of logging in again. The token is still valid.
    let shuttingDown = null;
    socket.on("server_shutdown", (notice) => {
      shuttingDown = notice || {};
      this._setState("connecting");
    });
    socket.on("disconnect", (reason) => {
      this._setState("connecting");
      if (reason !== "io server disconnect") return;
      if (shuttingDown) {
        const wait = Math.min(5000, Math.max(0, Number(shuttingDown.reconnect_after_ms) || 0));
        shuttingDown = null;
        setTimeout(() => { if (this.socket === socket && !socket.connected) socket.connect(); }, wait);
        return;
      }
      // The server closes the connection when the token expired or the device was revoked; socket.io does
      // not reconnect by itself after that, the device logs in again first.
      this.dispatchEvent(new CustomEvent("server_disconnect"));
    });
    socket.on("connect_error", (err) => {
      this._setState("connecting");
      this.dispatchEvent(new CustomEvent("connect_error", { detail: err && err.data ? err.data : err }));
    });
    socket.onAny((event, payload) => {
      this.dispatchEvent(new CustomEvent("event", { detail: { event, payload } }));
      this.dispatchEvent(new CustomEvent(`ev:${event}`, { detail: payload }));
    });
  }

  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent("state", { detail: s }));
  }

  get connected() {
    return !!(this.socket && this.socket.connected);
  }

  /** Emit with an ack; resolves with `result`, rejects with ApiError. */
  request(event, payload, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      if (!this.connected) {
        reject(new ApiError(0, "network", "Not connected."));
        return;
      }
      this.socket.timeout(timeoutMs).emit(event, payload, (err, ack) => {
        if (err) return reject(new ApiError(0, "network", "The server did not answer in time."));
        if (ack && ack.ok) return resolve(ack.result || {});
        const e = (ack && ack.error) || {};
        reject(new ApiError(0, e.code || "internal", e.message || "Request failed.", e.details));
      });
    });
  }

  on(event, fn) {
    const wrapped = (e) => fn(e.detail);
    this.addEventListener(`ev:${event}`, wrapped);
    return () => this.removeEventListener(`ev:${event}`, wrapped);
  }

  close() {
    if (this.socket) {
      this.socket.removeAllListeners();
      this.socket.disconnect();
      this.socket = null;
    }
    this._setState("offline");
  }
}
