// On-device storage of secrets. One random 32-byte storage key encrypts every record in IndexedDB
// (XChaCha20-Poly1305, the record's name as associated data, so records cannot be swapped); the storage
// key itself is wrapped with the passphrase (Argon2id, keywrap format of docs/PROTOCOL.md).
// Nothing secret goes to localStorage or cookies.
import * as p from "../crypto/primitives.js";
import { utf8, fromUtf8 } from "../lib/bytes.js";
import { wrapKey, unwrapKey } from "../crypto/keywrap.js";
import { KdfFailed } from "../crypto/kdf.js";
import { idbGet, idbPut, idbDel, idbClear, idbEntries, idbWrite } from "../store/idb.js";

export class WrongPassphrase extends Error {}

export class Vault {
  constructor() {
    this.key = null;
    this.meta = null;
    this._writes = Promise.resolve();
  }

  async loadMeta() {
    this.meta = (await idbGet("meta", "device")) || null;
    return this.meta;
  }

  /** First run: a fresh storage key wrapped with `passphrase`. */
  async create(passphrase, meta) {
    this.key = p.randomBytes(32);
    const wrapped = await wrapKey(passphrase, this.key);
    this.meta = { ...meta, wrapped };
    await idbPut("meta", "device", this.meta);
  }

  async updateMeta(patch) {
    this.meta = { ...this.meta, ...patch };
    await idbPut("meta", "device", this.meta);
  }

  async unlock(passphrase) {
    if (!this.meta) throw new Error("no device on this browser");
    try {
      this.key = await unwrapKey(passphrase, this.meta.wrapped);
    } catch (e) {
      if (e instanceof KdfFailed) throw e;
      throw new WrongPassphrase("That passphrase does not unlock this device.");
    }
  }

  lock() {
    if (this.key) this.key.fill(0);
    this.key = null;
  }

  get unlocked() {
    return !!this.key;
  }

  async get(name) {
    const rec = await idbGet("records", name);
    if (!rec) return undefined;
    const plain = p.aeadDecrypt(this.key, rec.n, rec.c, utf8(name));
    return JSON.parse(fromUtf8(plain));
  }

  /** Writes are serialised so a later write of the same record can never be overtaken by an earlier one. */
  put(name, value) {
    const n = p.randomBytes(24);
    const c = p.aeadEncrypt(this.key, n, utf8(JSON.stringify(value)), utf8(name));
    this._writes = this._writes.then(() => idbPut("records", name, { n, c }));
    return this._writes;
  }

  del(name) {
    this._writes = this._writes.then(() => idbDel("records", name));
    return this._writes;
  }

  /**
   * Write several records and delete others in one IndexedDB transaction (atomic): a received page is one
   * write of only the records it changed (one per message, per touched session...), never a rewrite of
   * whole lists. `puts` is a Map or array of [name, value].
   */
  write(puts, dels = []) {
    const sealed = [];
    for (const [name, value] of puts) {
      const n = p.randomBytes(24);
      sealed.push([name, { n, c: p.aeadEncrypt(this.key, n, utf8(JSON.stringify(value)), utf8(name)) }]);
    }
    this._writes = this._writes.then(() => idbWrite("records", sealed, [...dels]));
    return this._writes;
  }

  /** Every record whose name starts with `prefix`, as [name, value], in name order. */
  async entries(prefix) {
    const out = [];
    for (const [name, rec] of await idbEntries("records", prefix)) {
      out.push([name, JSON.parse(fromUtf8(p.aeadDecrypt(this.key, rec.n, rec.c, utf8(name))))]);
    }
    return out;
  }

  async wipe() {
    this.lock();
    await idbClear("records");
    await idbClear("meta");
    this.meta = null;
  }
}
