// Idle lock: an unlocked device left alone locks itself (the passphrase is needed again, and the token is
// revoked on the server by Device.lock). The delay is a setting of this device, kept in its encrypted
// vault ("settings" record); 0 turns the idle lock off.
//
// Measured against the wall clock on every check, not by counting timer ticks: a background tab's timers
// are throttled and a sleeping laptop runs none, but on waking the first check still sees the real idle time.

export const DEFAULT_IDLE_MINUTES = 10;
export const IDLE_CHOICES = [1, 5, 10, 15, 30, 60, 0];
const ACTIVITY = ["pointerdown", "keydown", "wheel", "touchstart"];
const CHECK_MS = 15_000;

export class IdleLock {
  constructor(device) {
    this.d = device;
    this.minutes = DEFAULT_IDLE_MINUTES;
    this.lastActive = Date.now();
    this._timer = null;
    this._onActivity = () => (this.lastActive = Date.now());
    this._onVisible = () => document.visibilityState === "visible" && this.check();
  }

  async start() {
    const settings = (await this.d.vault.get("settings")) || {};
    this.minutes = Number.isInteger(settings.idleMinutes) ? settings.idleMinutes : DEFAULT_IDLE_MINUTES;
    this.lastActive = Date.now();
    for (const ev of ACTIVITY) document.addEventListener(ev, this._onActivity, { passive: true, capture: true });
    document.addEventListener("visibilitychange", this._onVisible);
    this._arm();
  }

  stop() {
    clearTimeout(this._timer);
    this._timer = null;
    for (const ev of ACTIVITY) document.removeEventListener(ev, this._onActivity, { capture: true });
    document.removeEventListener("visibilitychange", this._onVisible);
  }

  async setMinutes(minutes) {
    if (!IDLE_CHOICES.includes(minutes)) throw new Error("unsupported idle delay");
    this.minutes = minutes;
    const settings = (await this.d.vault.get("settings")) || {};
    await this.d.vault.put("settings", { ...settings, idleMinutes: minutes });
    this.lastActive = Date.now();
    this._arm();
  }

  _arm() {
    clearTimeout(this._timer);
    if (!this.minutes) return;
    const left = this.lastActive + this.minutes * 60_000 - Date.now();
    this._timer = setTimeout(() => this.check(), Math.max(0, Math.min(left, CHECK_MS)));
  }

  check() {
    if (this.d.status !== "ready" && this.d.status !== "revoked") return;
    // A session on the call screen is use, even with no key pressed for fifty minutes.
    if (location.hash.startsWith("#/call/")) this.lastActive = Date.now();
    if (this.minutes && Date.now() - this.lastActive >= this.minutes * 60_000) {
      this.d.lock({ reason: "idle" });
      return;
    }
    this._arm();
  }
}
