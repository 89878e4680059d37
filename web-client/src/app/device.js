// This browser's device: account lifecycle (join, unlock, lock), authentication, contacts and consent.
// Messaging lives in messenger.js; it shares this object's api, realtime connection and vault.
import { ready, sha256 } from "../crypto/primitives.js";
import { fromHex, toB64, utf8 } from "../lib/bytes.js";
import { b64url, invitationFingerprint } from "../crypto/link.js";
import { Api, ApiError } from "./api.js";
import { Realtime } from "./realtime.js";
import { Vault } from "./vault.js";
import { DeviceKeys } from "./identity.js";
import { Names } from "./names.js";
import { checkName } from "./profile.js";
import { Messenger } from "./messenger.js";
import { messengerPort } from "./messenger_port.js";
import { acceptKeys, addedDeviceText, mergeContact, ownCertified } from "./trust.js";
import { requiresVerified } from "./practice.js";
import { IdleLock } from "./idle.js";
import { DAY_MS, maintainPrekeys } from "./prekeys.js";
import { PREKEY_BATCH_SIZE, PREKEY_LOW_WATER_MARK } from "../crypto/limits.js";

// Login refusals that mean this device will never get in again (as opposed to being offline).
const REVOKED = new Set(["unauthenticated", "not_found", "forbidden", "signature_invalid"]);

export class Device extends EventTarget {
  constructor() {
    super();
    this.api = new Api();
    this.rt = new Realtime();
    this.vault = new Vault();
    this.keys = null;
    this.status = "loading"; // loading | none | locked | ready | revoked
    this.me = null; // {account_id, device_id, role, linked_account_id}
    this.devices = []; // my account's devices from GET /me
    this.contacts = new Map(); // account_id -> contact (see _mergeContacts)
    this.state = null; // persisted, encrypted: {lastPos, contacts: {id: {known, verified, keyChanged, lastRead}}}
    this.messenger = new Messenger(messengerPort(this));
    this.names = new Names(this); // names from the account vault (app/names.js)
    this.idle = new IdleLock(this);
    this.lockReason = null; // why the device is locked: manual | idle | removed
    this.api.onUnauthenticated = () => this._tokenExpired();
    this.rt.addEventListener("connected", () => this._onConnected());
    this.rt.addEventListener("connect_error", (e) => this._onConnectError(e.detail));
    this.rt.addEventListener("server_disconnect", () => this._reconnect());
    this.rt.addEventListener("state", () => this.emit("connection"));
    this.rt.on("devices_changed", () => this.refreshContacts().catch(() => {}));
    this.rt.on("consent_changed", () => this.refreshContacts().catch(() => {}));
    this.rt.on("prekeys_low", () => this.replenishPrekeys().catch(() => {}));
  }

  emit(what, detail) {
    this.dispatchEvent(new CustomEvent("change", { detail: { what, ...detail } }));
  }

  get role() {
    return this.me && this.me.role;
  }

  /** Reads only the stored (public) account record: the first screen never waits for libsodium. */
  async load() {
    const meta = await this.vault.loadMeta();
    this.status = meta ? "locked" : "none";
    if (meta) this.me = meta.account;
    this.emit("status");
  }

  /**
   * Accept an invitation: the account key and this device's keys are made here, only public keys leave the
   * browser. `fingerprint` is the inviter's account-key fingerprint from the link's fragment (§18), or null.
   */
  async join(code, passphrase, fingerprint = null) {
    await ready();
    const keys = DeviceKeys.generate();
    keys.createAccount();
    const body = {
      invitation_code: code,
      account: { account_id: keys.data.account.id, account_key: keys.accountPublicB64() },
      device: keys.devicePayload(),
    };
    const account = await this.api.post("/accounts", body, { auth: false });
    this.newAccount = true; // main.js shows the recovery key first (views/newrecovery.js), in memory only
    const invite = fingerprint && account.linked_account_id ? { accountId: account.linked_account_id, fingerprint } : null;
    await this._created(keys, account, passphrase, invite);
  }

  /** A new device whose linking was approved on an existing one (app/linking.js) registers itself. */
  async registerLinked(keys, linkId, passphrase) {
    const account = await this.api.post("/devices", { link_id: linkId, device: keys.devicePayload() }, { auth: false });
    await this._created(keys, { linked_account_id: null, ...account }, passphrase);
  }

  async _created(keys, account, passphrase, invite = null) {
    await this.vault.create(passphrase, { account });
    this.keys = keys;
    this.me = account;
    this.state = { lastPos: 0, contacts: {}, invite };
    await this.vault.put("keys", keys.data);
    await this.vault.put("state", this.state);
    await this._start();
  }

  async unlock(passphrase) {
    await ready();
    await this.vault.unlock(passphrase);
    this.keys = new DeviceKeys(await this.vault.get("keys"));
    this.state = (await this.vault.get("state")) || { lastPos: 0, contacts: {} };
    this.me = this.vault.meta.account;
    await this._start();
  }

  /**
   * Lock this device: the token is revoked on the server (so a copy of it is worthless from now on) and the
   * keys leave memory. Offline, the revocation cannot reach the server and the token expires on its own.
   */
  lock({ reason = "manual" } = {}) {
    this.idle.stop();
    clearInterval(this._prekeyTimer);
    if (this.api.token) revokeToken(this.api.base, this.api.token);
    this.lockReason = reason;
    clearTimeout(this._reconnectTimer);
    this.rt.close();
    this.api.token = null;
    this.vault.lock();
    this.keys = null;
    this.state = null;
    this.contacts.clear();
    this.messenger.reset();
    this.status = "locked";
    this.emit("status");
  }

  /**
   * "Remove this account from this browser": this device is revoked on the server first (tokens, prekeys and
   * mailbox go with it, contacts are told), and only then is the local data wiped. If the server cannot be
   * reached nothing is wiped, so the person can try again rather than leave a live device behind.
   */
  async removeFromBrowser() {
    if (this.status === "ready") {
      // The server closes our socket when the device goes: it must not be taken for a revocation by someone else.
      this.status = "removing";
      clearTimeout(this._reconnectTimer);
      this.rt.close();
      try {
        await this.api.del(`/devices/${this.me.device_id}`);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === "not_found")) {
          // not_found: already revoked. Anything else: nothing is wiped, the device carries on.
          this.status = "ready";
          this.rt.connect(() => this.api.token);
          throw e;
        }
      }
    }
    await this.forget();
  }

  /** Wipe this browser's copy only (the device stays on the account until removed elsewhere). */
  async forget() {
    this.lock({ reason: "removed" });
    await this.vault.wipe();
    this.status = "none";
    this.me = null;
    this.newAccount = false;
    this.firstRecoveryKey = null;
    this.emit("status");
  }

  async _start() {
    await this.messenger.load();
    this.status = "ready";
    this.lockReason = null;
    await this.idle.start();
    try {
      await this.login();
      await this.refreshContacts();
      if (this.role !== "admin") requiresVerified(this); // learn (and remember) the practice's rules early
      this.replenishPrekeys()
        .catch(() => {})
        .then(() => maintainPrekeys(this));
      clearInterval(this._prekeyTimer);
      this._prekeyTimer = setInterval(() => this.status === "ready" && maintainPrekeys(this), DAY_MS);
    } catch (e) {
      if (e instanceof ApiError && REVOKED.has(e.code)) {
        this.status = "revoked";
        this.emit("status");
        return;
      }
      // The account exists and the keys are stored: a failure here is shown as offline, never lost.
      console.warn("start", e && e.code);
    }
    this.rt.connect(() => this.api.token); // first: its handshake travels while the screen is drawn
    this.emit("status");
    // The mailbox is pulled at once (over HTTP until the socket is up), not one handshake later.
    if (this.status === "ready") this.messenger.pull().catch(() => {});
  }

  async login() {
    const { nonce } = await this.api.post("/auth/challenge", { device_id: this.me.device_id }, { auth: false });
    const signature = this.keys.authSignature(nonce, this.me.device_id);
    const { token } = await this.api.post("/auth/token", { device_id: this.me.device_id, nonce, signature }, { auth: false });
    this.api.token = token;
  }

  /** One login at a time, shared by every call that found its token expired. */
  _tokenExpired() {
    if (this.status !== "ready") return Promise.reject(new Error("locked"));
    if (!this._relogin) this._relogin = this.login().finally(() => (this._relogin = null));
    return this._relogin;
  }

  async _onConnectError(err) {
    if (this.status !== "ready") return;
    if (err && err.code === "unauthenticated") await this._reconnect();
  }

  /** Log in again, then reopen the socket; while that fails (offline), try again every few seconds. */
  async _reconnect() {
    clearTimeout(this._reconnectTimer);
    if (this.status !== "ready") return;
    try {
      await this._tokenExpired();
    } catch (e) {
      if (this.status !== "ready") return; // locked or removed meanwhile
      if (e instanceof ApiError && REVOKED.has(e.code)) {
        // The server knows this device no longer: it was removed from the account (or the account disabled).
        this.rt.close();
        this.status = "revoked";
        this.emit("status");
        return;
      }
      this._reconnectTimer = setTimeout(() => this._reconnect(), 4000);
      return;
    }
    if (this.rt.socket && !this.rt.socket.active) this.rt.socket.connect();
  }

  async _onConnected() {
    // The contacts (a change missed while away) are refreshed while the mailbox drains, not before it:
    // receiving does not need them (a message from a device not known yet refreshes them itself:
    // app/messenger.js _trustedSender), and a send to a device set that changed is refused and encrypted
    // again. The drain of a backlog starts one round trip sooner.
    const contacts = this.refreshContacts().catch(() => {}); // a failure is shown as offline
    await this.messenger.onConnected(contacts);
  }

  async saveState() {
    if (this.state) await this.vault.put("state", this.state);
  }

  // ---- contacts -------------------------------------------------------------------------------------

  async refreshContacts() {
    const hasContacts = this.role === "client" || this.role === "therapist";
    const [me, { contacts }] = await Promise.all([
      this.api.get("/me"),
      hasContacts ? this.api.get("/contacts") : Promise.resolve({ contacts: [] }),
    ]);
    this.devices = me.devices || [];
    this.ownCertified = ownCertified(this, me).certified;
    const seen = new Set();
    let changed = false;
    for (const c of contacts) {
      seen.add(c.account_id);
      changed = this._mergeContact(c) || changed;
    }
    for (const id of [...this.contacts.keys()]) if (!seen.has(id)) this.contacts.delete(id);
    if (this.role === "client" && !this.me.linked_account_id) {
      const t = contacts.find((c) => c.role === "therapist");
      if (t) {
        this.me = { ...this.me, linked_account_id: t.account_id };
        await this.vault.updateMeta({ account: this.me });
      }
    }
    if (changed) await this.saveState();
    this.emit("contacts");
    if (changed) this.messenger.flush(); // a contact no longer blocked releases its held messages
  }

  /** Pin the contact's account key and keep only the devices it certifies (app/trust.js). */
  _mergeContact(c) {
    const { changed, added } = mergeContact(this, c);
    for (const d of added) this.messenger.notice(c.account_id, `device-${d.device_id}`, addedDeviceText(this.contactName(c.account_id), d));
    return changed;
  }

  contactName(accountId) {
    // The person's own name for them wins over the one they chose; both outlive the link (ended therapy).
    const named = this.names.nameOf(accountId);
    if (named) return named;
    const c = this.contacts.get(accountId);
    if (!c) return "Unknown";
    return c.role === "therapist" ? "Your therapist" : `Client ${accountId.slice(0, 6)}`;
  }

  /** The person accepts the contact's new key (or verified it): sending and calls resume (app/trust.js). */
  acknowledgeKeyChange(accountId, verified = false) {
    return acceptKeys(this, accountId, { verified });
  }

  async replenishPrekeys() {
    const { one_time_prekeys: count } = await this.api.get("/keys/count");
    if (count >= PREKEY_LOW_WATER_MARK * 5) return;
    const prekeys = this.keys.newOneTimePrekeys(PREKEY_BATCH_SIZE);
    await this.messenger.exclusive(() => this.vault.put("keys", this.keys.data)); // never mid-page
    await this.api.post("/keys/one-time-prekeys", { prekeys });
  }

  async revokeDevice(deviceId) {
    await this.api.del(`/devices/${deviceId}`);
    await this.refreshContacts();
  }

  // ---- consent ---------------------------------------------------------------------------------------

  async therapistTerms(therapistId) {
    return this.api.get(`/therapists/${therapistId}/terms`);
  }

  async acceptTerms(terms) {
    // Sign only what we were shown: the hash must be the SHA-256 of the text on screen.
    if (toB64(sha256(utf8(terms.text))) !== terms.terms_hash) throw new Error("These terms do not match their fingerprint. Please reload.");
    const signedAt = Date.now();
    const signature = this.keys.consentSignature({
      therapistId: terms.therapist_id,
      clientId: this.me.account_id,
      version: terms.version,
      termsHash: terms.terms_hash,
      signedAt,
    });
    const r = await this.api.post("/consent", {
      therapist_id: terms.therapist_id,
      version: terms.version,
      terms_hash: terms.terms_hash,
      signed_at: signedAt,
      signature,
    });
    await this.refreshContacts();
    return r;
  }

  /** For a client: the therapist's terms if they still need accepting, else null. */
  async pendingTerms() {
    if (this.role !== "client" || !this.me.linked_account_id) return null;
    const t = this.contacts.get(this.me.linked_account_id);
    if (t && t.consent && t.consent.current_version && t.consent.accepted_version === t.consent.current_version) return null;
    try {
      const terms = await this.therapistTerms(this.me.linked_account_id);
      if (t && t.consent && t.consent.accepted_version === terms.version) return null;
      return terms;
    } catch (e) {
      if (e instanceof ApiError && e.code === "not_found") return { missing: true }; // nothing published yet
      throw e;
    }
  }

  async publishTerms(text) {
    return this.api.put("/consent/terms", { text });
  }

  /** base64url of our account-key fingerprint, for the fragment of the invitations we create (§18). */
  invitationFingerprint() {
    return b64url(invitationFingerprint(fromHex(this.me.account_id), this.keys.account.public));
  }

  /** An invitation; the name typed for the person goes to the account vault, never to the server
   *  (`nameError`: why it could not be kept, the invitation itself is made all the same). */
  async invite(name) {
    if (name) checkName(name); // refused before anything is made
    const inv = await this.api.post("/invitations", { role: this.role === "admin" ? "therapist" : "client" });
    if (!name) return inv;
    try {
      await this.names.nameInvitation(inv.invitation_id, name);
      return inv;
    } catch (e) {
      return { ...inv, nameError: e.message };
    }
  }

  async invitations() {
    const { invitations } = await this.api.get("/invitations");
    return invitations.map((i) => ({ ...i, label: this.names.invitationName(i.invitation_id) }));
  }
}

/** DELETE /auth/token with the token being dropped; keepalive lets it finish while the page unloads. */
function revokeToken(base, token) {
  fetch(`${base}/auth/token`, {
    method: "DELETE",
    headers: { Authorization: `Bearer ${token}` },
    credentials: "omit",
    cache: "no-store",
    keepalive: true,
  }).catch(() => {});
}
