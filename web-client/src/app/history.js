// Conversation history in the account vault (docs/PROTOCOL.md §22.6), so that a linked or restored browser
// shows past messages. client/history.py is the same in Python; tests/vectors/vault.json ("history") pins the
// merge and the chunk limits.
//
// Records of kind HISTORY, one conversation each, in chunks:
//   {"conversation": <contact account id>, "chunk": n, "messages": [item, ...]}   items sorted by (at, id)
//   item = {"id", "from", "at", "text"} or {"id", "from", "at", "file": <file name>} (the file is not kept)
// This device appends what it read or sent (acknowledged) to the conversation's last chunk, a moment after
// the messages changed; a chunk is full at HISTORY_CHUNK_MESSAGES items or HISTORY_CHUNK_BYTES encoded.
// Another device appending at the same time makes the write a `conflict`: the chunk is read again and merged
// by message id. Messages in the history that this browser never saw are added to its conversations.
import { RecordKind } from "../crypto/accountvault.js";
import { HISTORY_CHUNK_BYTES, HISTORY_CHUNK_MESSAGES } from "../crypto/limits.js";
import { randomHex, utf8 } from "../lib/bytes.js";
import { vaultRecords } from "./vault_records.js";

const WRITE_AFTER_MS = 200; // a burst of messages (a page from the mailbox) becomes one write per conversation
const MAX_TRIES = 8;

const size = (item) => utf8(JSON.stringify(item)).length;

/** Union by message id (the existing item wins), sorted by (at, id). */
export function mergeItems(existing, fresh) {
  const byId = new Map(fresh.map((i) => [i.id, i]));
  for (const i of existing) byId.set(i.id, i);
  return [...byId.values()].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Consecutive chunks, each within HISTORY_CHUNK_MESSAGES items and HISTORY_CHUNK_BYTES encoded. */
export function splitChunks(items) {
  const chunks = [[]];
  // The encoded size of the chunk so far, kept as it grows: JSON.stringify of an array is "[" + its items
  // joined by "," + "]" (all one byte in UTF-8), so it is 2 + the items' sizes + the commas. Encoding the
  // whole chunk again for every item made a 10,000-message backlog spend seconds here.
  let bytes = 2;
  for (const item of items) {
    const current = chunks[chunks.length - 1];
    const n = size(item);
    if (current.length && (current.length >= HISTORY_CHUNK_MESSAGES || bytes + 1 + n > HISTORY_CHUNK_BYTES)) {
      chunks.push([item]);
      bytes = 2 + n;
    } else {
      bytes += (current.length ? 1 : 0) + n;
      current.push(item);
    }
  }
  return chunks;
}

/** A conversation message of app/messenger.js as a history item; null for what is not (yet) history. */
export function itemOf(msg, me, contact) {
  if (msg.dir === "out" && !(msg.state === "sent" || msg.state === "delivered")) return null;
  if (msg.dir !== "out" && msg.dir !== "in") return null; // notices are this device's own
  const from = msg.dir === "out" ? me : contact;
  return msg.kind === "file" ? { id: msg.id, from, at: msg.at, file: String(msg.body) } : { id: msg.id, from, at: msg.at, text: String(msg.body) };
}

function messageOf(item, me) {
  const body = item.file !== undefined ? `File: ${item.file} (the file itself is not kept in the history)` : String(item.text ?? "");
  return item.from === me ? { id: item.id, dir: "out", body, at: item.at, state: "sent", history: true } : { id: item.id, dir: "in", body, at: item.at, history: true };
}

export class HistorySync {
  constructor(device) {
    this.d = device;
    this.pending = new Set();
    this.timer = null;
    this.queue = Promise.resolve();
    this._vr = null;
    device.addEventListener("change", (e) => {
      const { what, accountId } = e.detail;
      if (what === "messages" && accountId && device.status === "ready") this._soon(accountId);
      if (what === "status" && device.status === "ready") this.start();
    });
  }

  get vr() {
    const vr = vaultRecords(this.d);
    if (vr !== this._vr) {
      this._vr = vr;
      vr.addEventListener("change", () => this._run(() => this._adoptAll()));
    }
    return vr;
  }

  /** On unlock: pull the vault (adopting history this browser never saw), then write what it lacks. */
  start() {
    return this._run(async () => {
      if (!(await this.vr.hasKey())) return;
      await this.vr.sync({ join: true }); // app/names.js starts the same first sync at unlock
      for (const id of this.d.contacts.keys()) this.pending.add(id);
      await this._write();
    });
  }

  _soon(accountId) {
    this.pending.add(accountId);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._run(() => this._write()), WRITE_AFTER_MS);
  }

  _run(job) {
    this.queue = this.queue.then(job).catch(() => {}); // a failed write is retried with the next change
    return this.queue;
  }

  chunks(contact) {
    return [...this.vr.entries.values()]
      .filter((e) => e.kind === RecordKind.HISTORY && e.body.conversation === contact)
      .sort((a, b) => (a.body.chunk || 0) - (b.body.chunk || 0) || (a.recordId < b.recordId ? -1 : 1));
  }

  conversation(contact) {
    let items = [];
    for (const c of this.chunks(contact)) items = mergeItems(items, c.body.messages || []);
    return items;
  }

  async _write() {
    if (this.d.status !== "ready" || !(await this.vr.hasKey())) return;
    const me = this.d.me.account_id;
    const contacts = [...this.pending];
    this.pending.clear();
    for (const contact of contacts) {
      const conv = await this.d.messenger.conversation(contact);
      await this.append(contact, conv.map((m) => itemOf(m, me, contact)).filter(Boolean));
    }
  }

  /** Add the items not yet in this conversation's history; returns how many were new. */
  async append(contact, items) {
    for (let i = 0; i < MAX_TRIES; i++) {
      const known = new Set(this.conversation(contact).map((m) => m.id));
      const fresh = items.filter((m) => !known.has(m.id));
      if (!fresh.length) return 0;
      const chunks = this.chunks(contact);
      const last = chunks.length ? chunks[chunks.length - 1] : null;
      const number = last ? last.body.chunk || 0 : 0;
      const parts = splitChunks(mergeItems(last ? last.body.messages || [] : [], fresh));
      try {
        for (let k = 0; k < parts.length; k++) {
          const body = { conversation: contact, chunk: number + k, messages: parts[k] };
          if (k === 0 && last) await this.vr._write(last.recordId, last.version, RecordKind.HISTORY, body);
          else await this.vr._write(randomHex(16), 0, RecordKind.HISTORY, body);
        }
      } catch (e) {
        if (e.code !== "conflict" || !last) throw e;
        await this.vr.sync(); // another device appended first: merge into its version
        continue;
      }
      return fresh.length;
    }
    throw new Error("the history kept changing");
  }

  async _adoptAll() {
    if (this.d.status !== "ready") return;
    const me = this.d.me.account_id;
    const contacts = new Set([...this.vr.entries.values()].filter((e) => e.kind === RecordKind.HISTORY).map((e) => e.body.conversation));
    for (const contact of contacts) {
      await this.d.messenger.adoptHistory(contact, this.conversation(contact).map((i) => messageOf(i, me)));
    }
  }
}
