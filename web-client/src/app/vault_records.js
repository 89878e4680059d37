// The encrypted account vault in the browser (docs/PROTOCOL.md section 22, docs/API.md "Vault"): the
// therapist's notes, sealed here under the account's vault key and stored on the server as ciphertext.
// Not src/app/vault.js (the local keystore); the vault key is an account secret (app/account_secrets.js), kept
// with the account key so that approved linking carries it to a new device.
// client/vault.py is the same in Python; both follow tests/vectors/vault.json.
import * as av from "../crypto/accountvault.js";
import { ready } from "../crypto/primitives.js";
import { backupSecrets, readSecrets, writeSecrets } from "./account_secrets.js";
import { fromB64, fromHex, fromUtf8, randomHex, toB64, toHex, utf8 } from "../lib/bytes.js";

const PAGE = 100;

export class VaultLocked extends Error {}

export class VaultRecords extends EventTarget {
  constructor(device) {
    super();
    this.device = device;
    this.position = 0;
    this.entries = new Map(); // record_id -> {recordId, version, kind, body, updatedAt}
    this.unreadable = new Set();
    this._off = device.rt.on("vault_changed", () => this.sync().catch(() => {}));
    // Locking the device forgets every decrypted note.
    device.addEventListener("change", (e) => {
      if (e.detail.what === "status" && device.status !== "ready") {
        this.entries.clear();
        this.position = 0;
      }
    });
  }

  get account() {
    return fromHex(this.device.me.account_id);
  }

  secrets() {
    return readSecrets(this.device);
  }

  _setSecrets(map) {
    return writeSecrets(this.device, map);
  }

  async hasKey() {
    return (await this.secrets()).has(av.SECRET_VAULT_KEY);
  }

  async _key() {
    const key = (await this.secrets()).get(av.SECRET_VAULT_KEY);
    if (!key) throw new VaultLocked("This device does not have your notes key yet.");
    return key;
  }

  /** The account's first device draws the vault key; refused when the server already holds records
   *  (another device has the key: this one must get it by approved linking or the recovery key). */
  async createKeyIfNew() {
    await ready();
    if (await this.hasKey()) return false;
    const index = await this.device.api.get("/vault/index");
    if (index.records.length || index.position) throw new VaultLocked("Your notes are locked on this device.");
    const map = await this.secrets();
    map.set(av.SECRET_VAULT_KEY, av.newVaultKey());
    await this._setSecrets(map);
    return true;
  }

  /** A new recovery key (shown once), replacing the previous one on the server. */
  async createRecoveryKey() {
    await ready();
    const key = av.newRecoveryKey();
    const d = av.deriveRecovery(key);
    const sealed = av.sealBackup(key, this.account, await backupSecrets(this.device));
    await this.device.api.put("/recovery", { lookup_id: toHex(d.lookupId), verifier: toB64(d.verifier), ciphertext: toB64(sealed) });
    return av.recoveryKeyText(key);
  }

  /** Unlock this device's notes with the recovery key: InvalidKey for a typo, ApiError not_found for a wrong key. */
  async adoptRecoveryKey(text) {
    await ready();
    const key = av.parseRecoveryKey(text);
    const d = av.deriveRecovery(key);
    const got = await this.device.api.post("/recovery/fetch", { lookup_id: toHex(d.lookupId), authenticator: toB64(d.authenticator) }, { auth: false });
    if (got.account_id !== this.device.me.account_id) throw new VaultLocked("This recovery key belongs to another account.");
    const recovered = av.openBackup(key, this.account, fromB64(got.ciphertext));
    const map = await this.secrets();
    for (const [t, v] of recovered) map.set(t, v);
    await this._setSecrets(map);
  }

  async _open(item, key) {
    try {
      const { kind, body } = av.openRecord(key, this.account, fromHex(item.record_id), item.version, fromB64(item.ciphertext));
      this.unreadable.delete(item.record_id);
      return { recordId: item.record_id, version: item.version, kind, body: JSON.parse(fromUtf8(body)), updatedAt: item.updated_at };
    } catch {
      this.unreadable.add(item.record_id); // altered or moved by someone: never shown as something else
      return null;
    }
  }

  /**
   * Bring `entries` up to date with the server. Coalesced: a call while a sync runs shares one more run
   * after it (which sees whatever changed meanwhile); with `join`, the run under way is enough (at unlock,
   * names and history both want a first sync: the server is asked once, not twice).
   */
  sync({ join = false } = {}) {
    if (this._syncing && join) return this._syncing;
    if (this._syncing) {
      this._again ||= this._syncing.catch(() => {}).then(() => {
        this._again = null;
        return this.sync();
      });
      return this._again;
    }
    this._syncing = this._sync().finally(() => (this._syncing = null));
    return this._syncing;
  }

  async _sync() {
    await ready();
    const key = await this._key();
    for (;;) {
      const page = await this.device.api.get(`/vault?after=${this.position}&limit=${PAGE}`);
      for (const item of page.records) {
        const e = await this._open(item, key);
        if (e) this.entries.set(e.recordId, e);
        this.position = Math.max(this.position, item.seq);
      }
      if (!page.more) break;
    }
    const index = await this.device.api.get("/vault/index");
    const live = new Map(index.records.map((r) => [r.record_id, r.version]));
    for (const id of [...this.entries.keys()]) if (!live.has(id)) this.entries.delete(id);
    for (const [id, version] of live) {
      const known = this.entries.get(id);
      if ((!known || known.version !== version) && !this.unreadable.has(id)) {
        const e = await this._open(await this.device.api.get(`/vault/records/${id}`), key);
        if (e) this.entries.set(id, e);
      }
    }
    this.position = Math.max(this.position, index.position);
    this.dispatchEvent(new CustomEvent("change"));
    return this.position;
  }

  async _write(recordId, version, kind, body) {
    const key = await this._key();
    const sealed = av.sealRecord(key, this.account, fromHex(recordId), version + 1, kind, utf8(JSON.stringify(body)));
    const got = await this.device.api.put(`/vault/records/${recordId}`, { expected_version: version, ciphertext: toB64(sealed) });
    const e = { recordId, version: got.version, kind, body, updatedAt: got.updated_at };
    this.entries.set(recordId, e);
    return e;
  }

  /** Create or update from `baseVersion` (the version the person was editing; default: the one held here).
   *  On a conflict both are kept: this text as a new record, the other as it is. */
  async save(kind, body, recordId = null, baseVersion = null) {
    await ready();
    if (!recordId) return { entry: await this._write(randomHex(16), 0, kind, body), conflict: null };
    const known = this.entries.get(recordId);
    const base = baseVersion ?? (known ? known.version : 0);
    let current;
    try {
      return { entry: await this._write(recordId, base, kind, body), conflict: null };
    } catch (e) {
      if (e.code !== "conflict") throw e;
      current = e.details.current_version || 0;
    }
    let theirs = null;
    if (current) {
      theirs = await this._open(await this.device.api.get(`/vault/records/${recordId}`), await this._key());
      if (theirs) this.entries.set(recordId, theirs);
    } else this.entries.delete(recordId);
    const entry = await this._write(randomHex(16), 0, kind, { ...body, conflict_of: recordId });
    return { entry, conflict: theirs };
  }

  async remove(recordId) {
    const e = this.entries.get(recordId);
    await this.device.api.post(`/vault/records/${recordId}/delete`, { expected_version: e.version });
    this.entries.delete(recordId);
    this.dispatchEvent(new CustomEvent("change"));
  }

  notes(clientId) {
    return [...this.entries.values()]
      .filter((e) => e.kind === av.RecordKind.NOTE && e.body.client === clientId)
      .sort((a, b) => (b.body.updated_at || 0) - (a.body.updated_at || 0) || (a.recordId < b.recordId ? 1 : -1));
  }

  search(clientId, query) {
    const words = query.toLocaleLowerCase().split(/\s+/).filter(Boolean);
    return this.notes(clientId).filter((n) => words.every((w) => String(n.body.text || "").toLocaleLowerCase().includes(w)));
  }

  saveNote(clientId, text, noteId = null, baseVersion = null) {
    const now = Date.now();
    const old = noteId ? this.entries.get(noteId) : null;
    const body = { client: clientId, text, created_at: old ? old.body.created_at : now, updated_at: now };
    return this.save(av.RecordKind.NOTE, body, noteId, baseVersion);
  }

  close() {
    this._off();
  }
}

/** One VaultRecords per unlocked device. */
export function vaultRecords(device) {
  if (!device._vaultRecords || device._vaultRecords.device !== device || !device.me) device._vaultRecords = new VaultRecords(device);
  return device._vaultRecords;
}
