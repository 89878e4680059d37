// The names this browser shows (docs/PROTOCOL.md section 23; client/names.py is the same in the SDK):
// - the person's own names for contacts (a therapist's names for clients, an administrator's for therapists),
//   typed at invitation time or later, kept as CONTACT records of the account vault so every device shows them;
// - this account's display name (the vault's PROFILE record), sent end to end to each contact when it changes
//   and to each new contact;
// - the display names contacts sent, kept in the vault too (a CONTACT record each) for the other devices.
// The person's own name for a contact always wins over what the contact sent. Nothing here reaches the server
// other than as vault ciphertext or inside the E2EE messages.
import * as av from "../crypto/accountvault.js";
import { boundBody, checkName, contactBody, invitationBody, ownProfileBody, receivedBody } from "./profile.js";
import { vaultRecords } from "./vault_records.js";
import { ensureVaultKey } from "./vault_key.js";

const CONTACT = av.RecordKind.CONTACT;

export class Names {
  constructor(device) {
    this.d = device;
    this.unlocked = false; // this device holds the vault key and has synced once
    this._busy = null;
    device.addEventListener("change", (e) => {
      const what = e.detail.what;
      if (what === "status") {
        if (device.status === "ready") this.start();
        else this.unlocked = false;
      } else if (what === "contacts") this._afterContacts();
      else if (what === "profile") {
        if (this.unlocked) this._afterContacts();
        else this.d.emit("contacts"); // shown from this device's state until the vault is readable
      }
    });
  }

  get vr() {
    return vaultRecords(this.d);
  }

  _contacts() {
    return this.unlocked ? [...this.vr.entries.values()].filter((e) => e.kind === CONTACT) : [];
  }

  /** Unlock the names: the vault key (made on the account's first device) and a first sync. */
  start() {
    if (!this._starting) this._starting = this._start().finally(() => (this._starting = null));
    return this._starting;
  }

  async _start() {
    try {
      if (!(await ensureVaultKey(this.d))) return;
      const vr = this.vr;
      if (this._listening !== vr) {
        // Another device renamed someone, or a profile arrived there: every screen shows names afresh.
        this._listening = vr;
        vr.addEventListener("change", () => this.unlocked && this.d.emit("contacts"));
      }
      await vr.sync();
      this.unlocked = true;
      this.d.emit("contacts");
      await this._afterContacts();
    } catch (e) {
      console.warn("names", e && (e.code || e.name)); // shown as the fallback names; retried on next unlock
    }
  }

  // ---- reading --------------------------------------------------------------------------------------

  /** The person's own name for this account (typed at invitation or later), or null. */
  ownName(accountId) {
    const e = this._contacts().find((x) => x.body.account_id === accountId && typeof x.body.name === "string");
    return e ? e.body.name : null;
  }

  /** The display name this contact sent (from the vault, else as just received here), or null. */
  theirName(accountId) {
    const e = this._contacts().find((x) => x.body.account_id === accountId && typeof x.body.display_name === "string");
    if (e) return e.body.display_name;
    const got = this.d.state && this.d.state.profiles && this.d.state.profiles[accountId];
    return got ? got.name : null;
  }

  /** What to show for a contact: the own name wins, then the name they chose, else null (caller's fallback). */
  nameOf(accountId) {
    return this.ownName(accountId) || this.theirName(accountId);
  }

  /** The name typed for an invitation (before or after it was used), or null. */
  invitationName(invitationId) {
    const e = this._contacts().find((x) => x.body.invitation_id === invitationId);
    return e ? e.body.name : null;
  }

  displayName() {
    const e = this.unlocked ? [...this.vr.entries.values()].find((x) => x.kind === av.RecordKind.PROFILE) : null;
    return e && e.body.display_name ? e.body.display_name : null;
  }

  // ---- writing --------------------------------------------------------------------------------------

  async _ready() {
    if (!this.unlocked) await this.start();
    if (!this.unlocked) throw new Error("Names cannot be saved on this device until it has your account's notes key (link it from another device, or use your recovery key).");
  }

  async nameInvitation(invitationId, name) {
    const body = invitationBody(invitationId, name);
    await this._ready();
    await this.vr.save(CONTACT, body);
    this.d.emit("contacts");
  }

  /** Rename a contact (the person's own name for them). */
  async setContactName(accountId, name) {
    checkName(name);
    await this._ready();
    const existing = this._contacts().find((x) => x.body.account_id === accountId && typeof x.body.name === "string");
    const body = existing && existing.body.invitation_id ? boundBody(accountId, existing.body.invitation_id, name) : contactBody(accountId, name);
    await this.vr.save(CONTACT, body, existing ? existing.recordId : null);
    this.d.emit("contacts");
  }

  /** Set this account's display name and send it end to end to every contact that can be written to. */
  async setDisplayName(name) {
    const body = ownProfileBody(name);
    await this._ready();
    const existing = [...this.vr.entries.values()].find((x) => x.kind === av.RecordKind.PROFILE);
    await this.vr.save(av.RecordKind.PROFILE, body, existing ? existing.recordId : null);
    await this._announce();
  }

  // ---- keeping in step ------------------------------------------------------------------------------

  /** Bring names up to date now (e.g. the admin dashboard, whose staff list may show newly joined people). */
  refresh() {
    return this._afterContacts();
  }

  /** One pass at a time (two would write the same records twice); a request during a pass runs another. */
  _afterContacts() {
    if (!this.unlocked || this.d.status !== "ready") return Promise.resolve();
    if (this._busy) {
      this._again = true;
      return this._busy;
    }
    this._busy = (async () => {
      do {
        this._again = false;
        await this._bindInvitations();
        await this._keepReceived();
        await this._announce();
      } while (this._again && this.unlocked);
    })()
      .catch((e) => console.warn("names", e && (e.code || e.name)))
      .finally(() => (this._busy = null));
    return this._busy;
  }

  /** Names typed at invitation time go to the account that used the invitation (any device may do it). */
  async _bindInvitations() {
    const pending = this._contacts().filter((x) => x.body.invitation_id && !x.body.account_id);
    if (!pending.length) return;
    const { invitations } = await this.d.api.get("/invitations");
    const used = new Map(invitations.filter((i) => i.account_id).map((i) => [i.invitation_id, i.account_id]));
    let bound = 0;
    for (const e of pending) {
      const accountId = used.get(e.body.invitation_id);
      if (!accountId || this.ownName(accountId)) continue;
      try {
        // A rewrite of the same record from the version read, never a new one: a conflict means another
        // device bound it first, and its version arrives by sync.
        await this.vr._write(e.recordId, e.version, CONTACT, boundBody(accountId, e.body.invitation_id, e.body.name));
        bound++;
      } catch (err) {
        if (err.code !== "conflict") throw err;
      }
    }
    if (bound) this.d.emit("contacts");
  }

  /** Copy the display names contacts sent to this device into the vault, for the account's other devices. */
  async _keepReceived() {
    const got = (this.d.state && this.d.state.profiles) || {};
    let kept = 0;
    for (const [accountId, { name }] of Object.entries(got)) {
      const old = this._contacts().find((x) => x.body.account_id === accountId && typeof x.body.display_name === "string");
      if (old && old.body.display_name === name) continue;
      await this.vr.save(CONTACT, receivedBody(accountId, name), old ? old.recordId : null);
      kept++;
    }
    if (kept) this.d.emit("contacts");
  }

  /** Send the display name to each contact that has not had this one from this device (new contacts, or
   *  after a change), once the pair can write to each other (consent current, key not changed). */
  async _announce() {
    const name = this.displayName();
    const st = this.d.state;
    if (!name || !st || this.d.role === "admin") return;
    const sent = (st.profileSent ||= {});
    let changed = false;
    for (const c of this.d.contacts.values()) {
      const consent = c.consent;
      const writable = consent && consent.current_version && consent.accepted_version === consent.current_version;
      if (!writable || sent[c.account_id] === name) continue;
      await this.d.messenger.sendProfile(c.account_id, name);
      sent[c.account_id] = name;
      changed = true;
    }
    if (changed) await this.d.saveState();
  }
}
