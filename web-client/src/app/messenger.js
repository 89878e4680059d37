// End-to-end encrypted messaging for this device: pairwise sessions (crypto/session.js), an offline-safe
// outbox, mailbox sync from the last acknowledged position, de-duplication and delivery receipts.
//
// Message plaintext (inside the ratchet; the server never sees it), UTF-8 JSON, as the Python SDK's payload
// (client/payload.py); the message id is the send's client-chosen id:
//   {"v": 2, "id": "<message id>", "type": "text", "body": "...", "sent_at": ms, "to": "<recipient account_id>"}
//   {"v": 2, "id": "...", "type": "receipt", "ids": ["<message id>", ...], "sent_at": ms, "to": "..."}   (delivered)
//   {"v": 2, "id": "...", "type": "file", "file": {...pointer...}, "sent_at": ms, "to": "..."}   (PROTOCOL §11.1)
//   {"v": 2, "id": "...", "type": "profile", "display_name": "...", "sent_at": ms, "to": "..."}   (PROTOCOL §23)
// The id inside the ciphertext is what de-duplicates (PROTOCOL §20), never the relay's.
// A plaintext that is not such JSON is shown as text (interop with minimal senders).
//
// Storage (vault records, each sealed on its own): `session:<device>` per peer device, `msgs:<account>:<key>`
// per slice of up to SLICE_MESSAGES conversation messages (`msg:<account>:<key>`, one message each: written
// before slices, and for messages from the account's history), `outbox:<key>` per queued send (with its
// ciphertext once encrypted), `seen:<pos>` one chunk of message ids per received page. A received page is ONE
// vault write of just the records it changed (its slices, the sessions it moved, its seen ids, queued
// receipts, the cursor), then the acknowledgement: never a rewrite of a whole conversation or list, so a
// backlog of any size drains in linear time, with a few records per page instead of one per message.
//
// Retries (the same rule as the Python SDK, docs/PROTOCOL.md "Sending and retries"): a send is encrypted once
// and its ciphertext stored with the outbox entry before it goes out; a network failure, `rate_limited` or
// `storage_unavailable` resends that ciphertext byte for byte (the server de-duplicates by id); only
// `device_set_mismatch` encrypts again; any other refusal is final (the message shows "failed").
import { equalBytes, fromB64, fromUtf8, randomHex, toB64, utf8 } from "../lib/bytes.js";
import { Session } from "../crypto/session.js";
import { parseEnvelope, wireName, TYPE_PREKEY } from "../crypto/envelope.js";
import { DuplicateMessage, ReplayedMessage, SessionMismatch } from "../crypto/errors.js";
import { ApiError } from "./api.js";
import { filePayload, pointerFromWire, pointerToWire } from "./file_pointer.js";
import { KeyChangeHold } from "./trust.js";
import { displayNameOf, profilePayload } from "./profile.js";
import { receiptIdsOf, receiptPayloads } from "./receipt.js";
import { nextTask } from "../lib/dom.js";

const SEEN_LIMIT = 2000;
const MAX_PREVIOUS_SESSIONS = 4;
const RETRY_MS = 3000;
// Refusals that say "not now" rather than "never": the outbox keeps the message and resends it (as the SDK).
const TRANSIENT = new Set(["rate_limited", "storage_unavailable"]);
const SYNC_PAGE = 200;
const HELD = "held"; // _sendItem: kept in the outbox until the person accepts the contact's new key
const BATCH = 32; // sends per send_batch event (server/limits.py MAX_SENDS_PER_BATCH)
const ACK_FOLD_MS = 250; // how long an acknowledgement waits for a pull to carry it (sync's ack_up_to)
const SLICE_MS = 8; // decryption yields to the page after this long (it keeps painting and taking input)
const SLICE_MESSAGES = 25; // messages per sealed record (client/inbox.py keeps the same number per row)
const CHANGES_KEPT = 4000; // changed messages remembered per conversation for the screens (changesSince)

let lastKey = 0;
/** Increasing record keys (ms clock * 1000 + counter), so a prefix listing comes back in insertion order. */
function nextKey() {
  lastKey = Math.max(lastKey + 1, Date.now() * 1000);
  return String(lastKey).padStart(17, "0");
}

export class Messenger {
  /** `port`: the device as app/messenger_port.js shows it, never the whole Device. */
  constructor(port) {
    this.d = port;
    this.reset();
    // A push is a wake-up, not the stream (docs/SCALE.md): pushes relayed by other nodes can arrive out of
    // order, or not at all while Redis is away, and taking a pushed position would skip what was not seen.
    this.d.rt.on("inbox", () => this.pull());
  }

  reset() {
    clearTimeout(this._retryTimer);
    this.sessions = new Map();
    this.convs = new Map();
    // What the person is writing to each contact, in memory only (never stored): a chat screen drawn again
    // (a contacts refresh, new terms) starts from it instead of an empty composer. Gone on lock.
    this.drafts = new Map();
    this.outbox = [];
    this.seen = new Set();
    this._seenChunks = []; // [record name, ids] oldest first
    this._dirtySessions = new Set();
    this._recOf = new Map(); // message id -> its record: a slice {name, msgs, page} or an older {name, msg}
    this._tails = new Map(); // account id -> its newest record (where a message sent from here goes)
    this._changes = new Map(); // account id -> {base, msgs}: its messages in the order they were added or changed
    this._chain = Promise.resolve();
    this._flushing = null;
    clearTimeout(this._ackTimer);
    this._ackWanted = 0; // the newest position on disk that the server has not been told about
  }

  async load() {
    const v = this.d.store;
    await this._migrate();
    for (const [name, list] of await v.entries("session:")) {
      this.sessions.set(name.slice(8), list.map((b64) => Session.fromBytes(fromB64(b64))));
    }
    this.outbox = (await v.entries("outbox:")).map(([name, item]) => ({ ...item, key: name }));
    for (const [name, ids] of await v.entries("seen:")) {
      this._seenChunks.push([name, ids]);
      for (const id of ids) this.seen.add(id);
    }
    for (const item of this.outbox) if (item.kind === "text") this._setState(item.to, item.id, this.d.isBlocked(item.to) ? "held" : "queued", false);
  }

  /** Records of the earlier whole-list layout (sessions, outbox, seen, conv:<id>) become per-record ones. */
  async _migrate() {
    const v = this.d.store;
    const puts = new Map();
    const dels = [];
    const sessions = await v.get("sessions");
    if (sessions) {
      for (const [dev, list] of Object.entries(sessions)) puts.set(`session:${dev}`, list);
      dels.push("sessions");
    }
    const outbox = await v.get("outbox");
    if (outbox) {
      for (const item of outbox) puts.set(`outbox:${nextKey()}`, item);
      dels.push("outbox");
    }
    const seen = await v.get("seen");
    if (seen) {
      puts.set(`seen:${nextKey()}`, seen);
      dels.push("seen");
    }
    for (const [name, conv] of await v.entries("conv:")) {
      for (const msg of conv) puts.set(`msg:${name.slice(5)}:${nextKey()}`, msg);
      dels.push(name);
    }
    if (dels.length) await v.write(puts, dels);
  }

  /** Stage the sessions used since the last write (only those) into `puts`. */
  _stageSessions(puts) {
    for (const dev of this._dirtySessions) {
      const list = this.sessions.get(dev);
      if (list) puts.set(`session:${dev}`, list.map((s) => toB64(s.toBytes())));
    }
    this._dirtySessions.clear();
  }

  /**
   * Stage a new or changed message into `puts`. Messages are kept SLICE_MESSAGES to a sealed record (a
   * slice): a received page writes a few records, not one per message. A page's messages go in slices of
   * their own (`page`), named and staged only when the page is done (_pageDone), in the page's write with
   * its cursor and seen ids: whoever else writes meanwhile never stores half a page (the server would
   * deliver it again, and it would show twice), and the slices sort after whatever was added meanwhile, as
   * the conversation shows them.
   */
  _stageMsg(puts, accountId, msg, page = null) {
    let rec = this._recOf.get(msg.id);
    if (rec ? !rec.page : !page) this._changed(accountId, msg); // a page's own: logged in _pageDone
    if (!rec) {
      rec = page ? this._pageSlice(page, accountId) : this._openSlice(accountId);
      rec.msgs.push(msg);
      this._recOf.set(msg.id, rec);
    }
    if (rec.page) return; // its page's write holds it, as it is then
    puts.set(rec.name, rec.msgs || rec.msg);
  }

  /** The page's slice for this conversation, a new one when there is none yet or it is full. */
  _pageSlice(page, accountId) {
    let rec = page.open.get(accountId);
    if (!rec || rec.msgs.length >= SLICE_MESSAGES) {
      rec = { name: null, accountId, msgs: [], page }; // named in _pageDone
      page.open.set(accountId, rec);
      page.slices.push(rec);
    }
    return rec;
  }

  /** The conversation's newest slice when it has room; else a new one. */
  _openSlice(accountId) {
    let rec = this._tails.get(accountId);
    if (!rec || !rec.msgs || rec.msgs.length >= SLICE_MESSAGES) {
      rec = { name: `msgs:${accountId}:${nextKey()}`, msgs: [], page: null };
      this._tails.set(accountId, rec);
    }
    return rec;
  }

  _stageOutbox(puts, item) {
    if (!item.key) item.key = `outbox:${nextKey()}`;
    const { key, ...stored } = item;
    puts.set(key, stored);
  }

  /** Every message added or changed goes through here, so a screen redraws only those (changesSince). */
  _changed(accountId, msg) {
    let log = this._changes.get(accountId);
    if (!log) this._changes.set(accountId, (log = { base: 0, msgs: [] }));
    log.msgs.push(msg);
    if (log.msgs.length > CHANGES_KEPT) {
      const drop = log.msgs.length - CHANGES_KEPT / 2;
      log.msgs.splice(0, drop);
      log.base += drop;
    }
  }

  /**
   * The messages of a conversation added or changed since change number `rev` (a message may appear more
   * than once), and the number to ask from next time. `msgs` is null when the screen must look at the whole
   * conversation: its first drawing (`rev` < 0), or when it fell further behind than the changes kept.
   */
  changesSince(accountId, rev) {
    const log = this._changes.get(accountId) || { base: 0, msgs: [] };
    const now = log.base + log.msgs.length;
    if (rev < log.base) return { rev: now, msgs: null };
    return { rev: now, msgs: log.msgs.slice(rev - log.base) };
  }

  async conversation(accountId) {
    if (!this.convs.has(accountId)) {
      // Slices (`msgs:`) and single-message records (`msg:`: written before slices, and the account
      // history's messages, keyed by their time) in the order of their keys.
      const records = [];
      for (const [name, msgs] of await this.d.store.entries(`msgs:${accountId}:`))
        records.push({ key: name.slice(name.lastIndexOf(":") + 1), rec: { name, msgs, page: null } });
      for (const [name, msg] of await this.d.store.entries(`msg:${accountId}:`))
        records.push({ key: name.slice(name.lastIndexOf(":") + 1), rec: { name, msg } });
      records.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      if (!this.convs.has(accountId)) {
        const conv = [];
        for (const { rec } of records) {
          for (const msg of rec.msgs || [rec.msg]) {
            this._recOf.set(msg.id, rec);
            conv.push(msg);
          }
        }
        if (records.length) this._tails.set(accountId, records[records.length - 1].rec);
        this.convs.set(accountId, conv);
      }
    }
    return this.convs.get(accountId);
  }

  /** Messages from the vault's history (app/history.js) that this browser never saw (a linked or restored
   *  device): each is put in time order, under a record key from its time so that a reload lists it in place,
   *  and its id counts as seen, so the same message arriving from the mailbox later is not shown twice. */
  async adoptHistory(accountId, msgs) {
    const conv = await this.conversation(accountId);
    const have = new Set(conv.map((m) => m.id));
    const puts = new Map();
    let used = null;
    for (const msg of msgs) {
      if (have.has(msg.id)) continue;
      have.add(msg.id);
      used ||= new Set([...this._recOf.values()].map((r) => r.name));
      let n = msg.at * 1000 + (parseInt(msg.id.slice(0, 3), 16) % 1000);
      while (used.has(`msg:${accountId}:${String(n).padStart(17, "0")}`)) n++;
      const name = `msg:${accountId}:${String(n).padStart(17, "0")}`;
      used.add(name);
      this._recOf.set(msg.id, { name, msg });
      puts.set(name, msg);
      const at = conv.findIndex((m) => m.at > msg.at);
      conv.splice(at < 0 ? conv.length : at, 0, msg);
      this.seen.add(`${msg.dir === "out" ? this.d.me.account_id : accountId}:${msg.id}`);
    }
    if (!puts.size) return 0;
    await this.d.store.write(puts);
    this.d.emit("messages", { accountId, history: true });
    return puts.size;
  }

  /** Write one message's record (a new one, or its changed state). */
  saveMsg(accountId, msg) {
    const puts = new Map();
    this._stageMsg(puts, accountId, msg);
    return this.d.store.write(puts);
  }

  unread(accountId) {
    const st = this.d.state && this.d.state.contacts[accountId];
    return (st && st.unread) || 0;
  }

  async markRead(accountId) {
    const st = this.d.state.contacts[accountId];
    if (st && st.unread) {
      st.unread = 0;
      await this.d.saveState();
      this.d.emit("contacts");
    }
  }

  // ---- sending -------------------------------------------------------------------------------------

  async send(to, body) {
    const msg = { id: randomHex(16), dir: "out", body, at: Date.now(), state: "sending" };
    return this._newMessage(to, msg, textPayload(to, body, msg.at, msg.id));
  }

  /** Send a file message; `pointer` is an uploaded file's pointer (files.js). Stored like a text message. */
  async sendFile(to, pointer) {
    const file = pointerToWire(pointer);
    const msg = { id: randomHex(16), dir: "out", kind: "file", file, body: pointer.name, at: Date.now(), state: "sending" };
    return this._newMessage(to, msg, filePayload(to, pointer, msg.at, msg.id));
  }

  /** Send this account's display name to a contact (PROTOCOL §23): an outbox entry like a receipt, never
   *  shown in the conversation. */
  async sendProfile(to, displayName) {
    const id = randomHex(16);
    const item = { kind: "profile", id, to, payload: profilePayload(to, displayName, Date.now(), id) };
    this.outbox.push(item);
    const puts = new Map();
    this._stageOutbox(puts, item);
    await this.d.store.write(puts);
    this.flush();
  }

  async retry(to, id) {
    const conv = await this.conversation(to);
    const msg = conv.find((m) => m.id === id);
    if (!msg || msg.state !== "failed") return;
    msg.state = "sending";
    const payload = msg.kind === "file" ? filePayload(to, pointerFromWire(msg.file), msg.at, id) : textPayload(to, msg.body, msg.at, id);
    await this._enqueue(to, msg, payload);
  }

  async _newMessage(to, msg, payload) {
    (await this.conversation(to)).push(msg);
    if (this.d.rt.state !== "online") msg.state = "queued";
    if (this.d.isBlocked(to)) msg.state = "held";
    await this._enqueue(to, msg, payload);
    return msg;
  }

  /** The message and its outbox entry in ONE write, then the outbox is flushed (in order). */
  async _enqueue(to, msg, payload) {
    const item = { kind: "text", id: msg.id, to, payload };
    this.outbox.push(item);
    const puts = new Map();
    this._stageMsg(puts, to, msg);
    this._stageOutbox(puts, item);
    await this.d.store.write(puts);
    this.d.emit("messages", { accountId: to });
    this.flush();
  }

  /**
   * Send everything queued, in order. Stops (keeping the queue) when the server cannot be reached.
   * Up to BATCH queued items go in ONE send_batch event: the server stores them in order, in one commit,
   * answers each, and stops at the first refusal, so no message overtakes an earlier one of its
   * conversation. What a batch did not settle goes through _sendItem, one at a time, with its retry rules.
   */
  flush() {
    if (this._flushing) {
      this._flushAgain = true;
      return this._flushing;
    }
    this._flushing = (async () => {
      do {
        this._flushAgain = false;
        while (this.d.status === "ready") {
          // Items for a contact blocked by a key change wait in place (app/trust.js); the rest go in order.
          const ready = this.outbox.filter((it) => !this.d.isBlocked(it.to)).slice(0, BATCH);
          if (!ready.length) break;
          if (ready.length > 1 && this.d.rt.connected && (await this._sendBatch(ready))) continue;
          const item = ready[0];
          const done = await this._sendItem(item);
          if (!done) return;
          if (done === HELD) continue;
          await this._settled([item]);
        }
      } while (this._flushAgain);
    })().finally(() => (this._flushing = null));
    return this._flushing;
  }

  async _settled(items) {
    const keys = [];
    for (const item of items) {
      this.outbox.splice(this.outbox.indexOf(item), 1);
      if (item.key) keys.push(item.key);
    }
    if (keys.length) await this.d.store.write([], keys);
  }

  /** One send_batch for the leading items; true when it settled at least one of them. */
  async _sendBatch(items) {
    // Encrypted once, between two received pages (exclusive): the ciphertexts and the sessions they moved
    // are stored before anything goes out.
    const { batch, written } = await this.exclusive(async () => {
      const batch = [];
      const puts = new Map();
      for (const item of items) {
        if (!item.body) {
          try {
            const envelopes = await this._encryptFor(item.to, utf8(JSON.stringify(item.payload)));
            item.body = { id: item.id, to_account: item.to, envelopes };
          } catch {
            break; // e.g. a key change or a bundle fetch: _sendItem meets it again and handles it
          }
          this._stageOutbox(puts, item);
        }
        batch.push(item);
      }
      if (puts.size) this._stageSessions(puts);
      return { batch, written: puts.size ? this.d.store.write(puts) : null };
    });
    await written;
    if (batch.length < 2) return false;
    let results;
    try {
      results = (await this.d.rt.request("send_batch", { sends: batch.map((it) => it.body) })).results || [];
    } catch {
      return false; // _sendItem posts the first one on its own and meets the same trouble
    }
    const sent = [];
    for (const [i, answer] of results.entries()) {
      if (!answer || !answer.ok) break; // the sends after a refusal were not looked at
      sent.push(batch[i]);
    }
    for (const item of sent) if (item.kind === "text") this._setState(item.to, item.id, "sent");
    await this._settled(sent);
    return sent.length > 0;
  }

  _retryLater(ms) {
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this.flush(), ms);
  }

  async _sendItem(item) {
    let lastError = "The message could not be addressed.";
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        if (!item.body) {
          // Encrypted once (between two received pages); the ciphertext is stored with the entry (and the
          // sessions it moved) before it goes out, so every retry resends the same bytes under the same id.
          await (await this.exclusive(async () => {
            const envelopes = await this._encryptFor(item.to, utf8(JSON.stringify(item.payload)));
            item.body = { id: item.id, to_account: item.to, envelopes };
            const puts = new Map();
            this._stageOutbox(puts, item);
            this._stageSessions(puts);
            return { written: this.d.store.write(puts) };
          })).written;
        }
        const body = item.body;
        if (this.d.rt.connected) await this.d.rt.request("send", body);
        else await this.d.api.post("/messages", body);
        if (item.kind === "text") this._setState(item.to, item.id, "sent");
        return true;
      } catch (e) {
        if (e instanceof KeyChangeHold) {
          if (item.kind === "text") this._setState(item.to, item.id, "held");
          return HELD;
        }
        if (e instanceof ApiError && e.code === "network") {
          // Offline: everything still in the outbox waits for the connection (sent in order on reconnect;
          // a timed-out request on a live connection is retried shortly, with the same id).
          for (const it of this.outbox) if (it.kind === "text" && !this.d.isBlocked(it.to)) this._setState(it.to, it.id, "queued");
          if (this.d.rt.connected) this._retryLater(RETRY_MS);
          return false;
        }
        if (e instanceof ApiError && TRANSIENT.has(e.code)) {
          this._retryLater(1000 * (Number(e.details.retry_after_seconds) || RETRY_MS / 1000));
          return false;
        }
        if (e instanceof ApiError && e.code === "device_set_mismatch") {
          const dropped = [...(e.details.stale || []), ...(e.details.extra || [])];
          for (const id of dropped) this.sessions.delete(id);
          item.body = null; // the one case that encrypts again
          await this.d.store.write([], dropped.map((id) => `session:${id}`));
          await this.d.refreshContacts();
          // The server demands a copy for a device that no accepted account key certifies: never sent.
          const untrusted = (e.details.missing || []).filter((id) => !this._trustedAnywhere(item.to, id));
          if (untrusted.length) {
            lastError = `Not sent: the server asks for a copy for a device that ${this.d.contactName(item.to)}'s account (or yours) did not approve.`;
            break;
          }
          continue;
        }
        if (e instanceof ApiError && e.code === "unauthenticated") {
          await this.d.login().catch(() => {});
          continue;
        }
        if (item.kind === "text") this._setState(item.to, item.id, "failed", true, e.message);
        return true;
      }
    }
    if (item.kind === "text") this._setState(item.to, item.id, "failed", true, lastError);
    return true;
  }

  _trustedAnywhere(to, deviceId) {
    return [...this.d.trustedDevices(to), ...this.d.trustedDevices(this.d.me.account_id)].some((d) => d.device_id === deviceId);
  }

  /** One envelope per current device of the recipient and per other device of ours. */
  async _encryptFor(to, plaintext) {
    let contact = this.d.contact(to);
    if (!contact) {
      await this.d.refreshContacts();
      contact = this.d.contact(to);
      if (!contact) throw new ApiError(404, "not_found", "This person is no longer one of your contacts.");
    }
    if (this.d.isBlocked(to)) throw new KeyChangeHold(to);
    // Only certified devices of accepted account keys (app/trust.js), whatever the server lists.
    const targets = [...this.d.trustedDevices(to), ...this.d.trustedDevices(this.d.me.account_id)];
    const envelopes = [];
    for (const t of targets) {
      let s = (this.sessions.get(t.device_id) || [])[0];
      const ik = fromB64(t.identity_key);
      if (!s || !equalBytes(s.peerIdentityKey, ik)) {
        const raw = await this.d.api.get(`/devices/${t.device_id}/bundle`);
        const b = raw.bundle || raw;
        if (b.identity_key !== t.identity_key) throw new ApiError(409, "device_set_mismatch", "Keys changed while sending.", { stale: [t.device_id] });
        const bundle = {
          identityKey: fromB64(b.identity_key),
          signedPrekey: { id: b.signed_prekey.id, public: fromB64(b.signed_prekey.public), signature: fromB64(b.signed_prekey.signature) },
          oneTimePrekey: b.one_time_prekey ? { id: b.one_time_prekey.id, public: fromB64(b.one_time_prekey.public) } : null,
        };
        s = Session.initiate(this.d.keys.identity, hexBytes(this.d.me.device_id), hexBytes(t.device_id), bundle);
        this._push(t.device_id, s);
      }
      const { type, bytes } = s.encrypt(plaintext);
      this._dirtySessions.add(t.device_id);
      envelopes.push({ v: 1, to_device: t.device_id, type: wireName(type), ciphertext: toB64(bytes) });
    }
    return envelopes; // the caller writes the moved sessions with the ciphertext
  }

  _setState(to, id, state, save = true, error = null) {
    const conv = this.convs.get(to);
    const msg = conv && conv.find((m) => m.id === id);
    if (!msg) {
      if (!this.convs.has(to)) this.conversation(to).then(() => this._setState(to, id, state, save, error));
      return;
    }
    if (msg.state === "delivered" && state !== "failed") return;
    msg.state = state;
    msg.error = error || undefined;
    if (save) this.saveMsg(to, msg);
    else this._changed(to, msg);
    this.d.emit("messages", { accountId: to, id });
  }

  // ---- receiving -----------------------------------------------------------------------------------

  /**
   * Run `fn` between two received pages, never during one. A page moves sessions, the replay cache and
   * one-time prekeys in memory as it decrypts, and only its own write stores them, with its messages and
   * cursor: a write of sessions or keys from elsewhere in the middle of a page (a send, a prekey top-up)
   * would store them moved past messages that are not stored yet, and after a crash the server's copies
   * of those messages could no longer be decrypted. Resolves to what `fn` returns; `fn` must not wait for
   * a page (it would wait for itself).
   */
  exclusive(fn) {
    const step = this._chain.then(fn);
    this._chain = step.then(() => {}, () => {});
    return step;
  }

  /** Pages are processed one at a time, in order. Resolves once this page is decrypted and its records
   *  sealed, to the promise of their write (or nothing): the next page is decrypted while it commits. */
  receive(envelopes) {
    const step = this._chain.then(() => this._process(envelopes));
    this._chain = step.then(() => {}, (e) => console.error("inbox", e));
    return step.then((r) => r || { written: null }, () => ({ written: null }));
  }

  /** Connected: pull what is waiting, then send what is queued once `contacts` (their refresh) settled. */
  async onConnected(contacts = null) {
    await this.pull(); // joins a pull under way (the one begun at unlock), then pulls once more
    await contacts;
    this.flush();
  }

  // Coalesced: pushes arriving during a pull cause one more pull after it.
  pull() {
    if (this._pulling) {
      this._pullAgain = true;
      return this._pulling;
    }
    this._pulling = (async () => {
      do {
        this._pullAgain = false;
        await this.sync();
      } while (this._pullAgain);
    })().finally(() => {
      this._pulling = null;
    });
    return this._pulling;
  }

  async sync() {
    let written = null; // the last page's write: sync() returns once it is on disk
    try {
      await this._sync((w) => (written = w || written));
    } finally {
      await (written && written.catch(() => {}));
    }
  }

  async _sync(onWrite) {
    let next = null;
    for (;;) {
      if (!this.d.state) return; // locked while pulling: the next unlock pulls from the saved position
      let r;
      try {
        r = await (next || this._syncPage(this.d.state.lastPos));
      } catch {
        return;
      }
      next = null;
      const envelopes = r.envelopes || [];
      if (!r.more || !envelopes.length) return onWrite((await this.receive(envelopes)).written);
      // The next page is asked for while this one is decrypted and written (as the SDK does): the server's
      // answer and the page's work overlap instead of taking turns. Positions only grow, so it starts after
      // this page's last; nothing is acknowledged before it is written (_ackWanted), and a page whose
      // processing was cut short (locked) is not skipped: the loop stops and the next unlock pulls again.
      const last = envelopes.reduce((top, e) => Math.max(top, e.pos), 0);
      next = this._syncPage(last);
      next.catch(() => {}); // a failure is seen when it is awaited
      onWrite((await this.receive(envelopes)).written);
      if (!this.d.state || this.d.state.lastPos < last) return;
    }
  }

  /**
   * One `sync` request for the envelopes after `after`, carrying any acknowledgement that is due. Before the
   * socket is up (the first pull at unlock runs while its handshake travels) the same page comes over HTTP,
   * and the acknowledgement goes on its own (_ackSoon).
   */
  async _syncPage(after) {
    if (!this.d.rt.connected) return this.d.api.get(`/messages?after=${after}&limit=${SYNC_PAGE}`);
    const query = { after, limit: SYNC_PAGE };
    const ackUpTo = this._ackWanted;
    if (ackUpTo) query.ack_up_to = ackUpTo; // the pull carries the acknowledgement: no ack event
    const r = await this.d.rt.request("sync", query);
    if (this._ackWanted === ackUpTo) this._ackWanted = 0;
    return r;
  }

  /** A pull within ACK_FOLD_MS carries the acknowledgement; otherwise one ack event goes out then. */
  _ackSoon(upTo) {
    this._ackWanted = Math.max(this._ackWanted, upTo);
    if (this._ackTimer) return;
    this._ackTimer = setTimeout(async () => {
      this._ackTimer = null;
      const upTo = this._ackWanted;
      if (!upTo) return;
      try {
        if (this.d.rt.connected) await this.d.rt.request("ack", { up_to: upTo });
        else await this.d.api.post("/messages/ack", { up_to: upTo });
        if (this._ackWanted === upTo) this._ackWanted = 0;
      } catch {
        /* acked with a later pull or acknowledgement */
      }
    }, ACK_FOLD_MS);
  }

  async _process(envelopes) {
    const st = this.d.state;
    if (!st || !envelopes.length) return;
    const touched = new Set();
    const puts = new Map(); // the records this page changed, written together
    const page = { puts, touched, receipts: new Map(), seen: [], slices: [], open: new Map(), added: [] };
    let keysChanged = false;
    // The cursor moves when the page is done, just before its write: a state saved meanwhile (a read
    // marker, a contacts refresh) never carries a position past messages that are not stored yet.
    let lastPos = st.lastPos;
    let slice = performance.now();
    for (const e of [...envelopes].sort((a, b) => a.pos - b.pos)) {
      if (e.pos <= lastPos) continue;
      try {
        const { plaintext, usedOtpk, accepted } = await this._decrypt(e);
        if (usedOtpk !== null && usedOtpk !== undefined) this.d.keys.deleteOneTimePrekey(usedOtpk);
        if (accepted) keysChanged = true; // the replay cache is saved with the session, before the ack
        await this._apply(e, plaintext, page);
      } catch (err) {
        if (err instanceof UntrustedSender && this.d.isBlocked(e.from_account)) {
          await this._notice(e.from_account, `A message was refused because ${this.d.contactName(e.from_account)}'s security key changed. Once you accept the new key, ask them to send it again.`, e, page);
        } else if (err instanceof UntrustedSender) {
          await this._notice(e.from_account, `A message from a device that ${this.d.contactName(e.from_account)}'s account did not approve was refused.`, e, page);
        } else if (err instanceof ReplayedMessage) {
          await this._notice(e.from_account, "A copy of an old message was delivered again and refused.", e, page);
        } else if (!(err instanceof DuplicateMessage)) {
          console.warn("undecryptable envelope", err && err.name);
          await this._notice(e.from_account, "A message could not be decrypted. Ask them to send it again.", e, page);
        }
      }
      lastPos = e.pos;
      // Sliced by time, not by count: a slow phone yields after fewer envelopes, so no slice (the first one
      // runs in the task that brought the page from the socket) becomes a long task.
      if (performance.now() - slice > SLICE_MS) {
        await nextTask();
        // Locked meanwhile: nothing of this page is written or acknowledged; the server delivers it again.
        if (this.d.state !== st) return;
        slice = performance.now();
      }
    }
    // Locked during the last envelope: as above, nothing of the page is kept.
    if (lastPos === st.lastPos || this.d.state !== st) return;
    st.lastPos = lastPos;
    this._pageDone(page);
    // One receipt per sender per page (not one per message): the ids it delivered.
    for (const [to, ids] of page.receipts) {
      for (const payload of receiptPayloads(to, ids, Date.now(), () => randomHex(16))) {
        const item = { kind: "receipt", id: payload.id, to, payload };
        this.outbox.push(item);
        this._stageOutbox(puts, item);
      }
    }
    const dels = [];
    if (page.seen.length) {
      const name = `seen:${String(st.lastPos).padStart(17, "0")}`;
      puts.set(name, page.seen);
      this._seenChunks.push([name, page.seen]);
      let total = this._seenChunks.reduce((sum, [, ids]) => sum + ids.length, 0);
      while (total > SEEN_LIMIT && this._seenChunks.length > 1) {
        const [old, ids] = this._seenChunks.shift();
        for (const id of ids) this.seen.delete(id);
        total -= ids.length;
        dels.push(old);
      }
    }
    this._stageSessions(puts);
    if (keysChanged) puts.set("keys", this.d.keys.data);
    puts.set("state", st);
    // Persist everything before acknowledging (one atomic write): once acked, the server deletes the envelopes.
    // The records are sealed now and committed in order (app/vault.js); the next page is decrypted meanwhile.
    // A failed write fails every later one too (the vault's write chain), so no later page is acknowledged.
    const upTo = st.lastPos;
    const written = this.d.store.write(puts, dels).then(() => {
      this._ackSoon(upTo);
      for (const id of touched) this.d.emit("messages", { accountId: id, incoming: true });
      this.flush();
    });
    written.catch((e) => console.error("inbox write", e && e.name));
    return { written }; // wrapped: an async function returning the promise itself would wait for it
  }

  /**
   * Each peer device has a short list of sessions, the active one first. Both sides may start a session at
   * the same moment; like Signal (and the Python SDK) we try each, and the one that decrypts becomes active,
   * so the two sides converge without losing a message.
   */
  async _decrypt(e) {
    const bytes = fromB64(e.ciphertext);
    // Only certified devices of an accepted account key are heard (app/trust.js), whatever the server says.
    if (!(await this._trustedSender(e.from_account, e.from_device))) throw new UntrustedSender();
    const list = this.sessions.get(e.from_device) || [];
    let refusal = null;
    for (let i = 0; i < list.length; i++) {
      try {
        const plaintext = list[i].decrypt(bytes);
        list.unshift(...list.splice(i, 1));
        this._dirtySessions.add(e.from_device);
        return { plaintext, usedOtpk: null };
      } catch (err) {
        // docs/PROTOCOL.md §7: only SessionMismatch may lead to accept; a duplicate or a failed decryption
        // ends here (a replayed prekey message must never replace a working session).
        if (!(err instanceof SessionMismatch) && !refusal) refusal = err;
      }
    }
    const env = parseEnvelope(bytes);
    if (refusal) throw refusal;
    if (env.type !== TYPE_PREKEY) throw new Error("no session decrypts this message");
    const expected = this.d.trustedIdentityKey(e.from_account, e.from_device);
    if (!expected || !equalBytes(expected, env.initialMessage.identityKey)) throw new Error("identity key mismatch");
    const keys = this.d.keys;
    const im = env.initialMessage;
    if (keys.isReplay(im)) throw new ReplayedMessage("this session start was already accepted");
    const r = Session.accept(keys.identity, hexBytes(this.d.me.device_id), (id) => keys.signedPrekey(id), (id) => keys.oneTimePrekey(id), bytes);
    keys.rememberInitialMessage(im); // saved with the session, in _process, before the ack
    this._push(e.from_device, r.session);
    this._dirtySessions.add(e.from_device);
    return { plaintext: r.plaintext, usedOtpk: r.usedOneTimePrekeyId, accepted: true };
  }

  async _trustedSender(accountId, deviceId) {
    if (this.d.trustedIdentityKey(accountId, deviceId)) return true;
    if (this.d.isBlocked(accountId)) return false;
    await this.d.refreshContacts().catch(() => {});
    return !!this.d.trustedIdentityKey(accountId, deviceId);
  }

  _push(deviceId, session) {
    const list = this.sessions.get(deviceId) || [];
    list.unshift(session);
    this.sessions.set(deviceId, list.slice(0, 1 + MAX_PREVIOUS_SESSIONS));
  }

  async _apply(e, plaintext, page) {
    const { puts, touched } = page;
    let payload;
    try {
      payload = JSON.parse(fromUtf8(plaintext));
      if (!payload || typeof payload !== "object" || !payload.type) throw new Error();
    } catch {
      payload = { type: "text", body: new TextDecoder().decode(plaintext), sent_at: e.sent_at };
    }
    const mine = e.from_account === this.d.me.account_id;
    if (payload.type === "bytes") payload = { ...payload, type: "text", body: "A file was sent. Files cannot be opened in the browser yet." };
    if (payload.type === "file") return this._applyFile(e, payload, mine, page);
    if (payload.type === "text") {
      // De-duplicate on the sender's id from inside the ciphertext, never on the relay's (§20).
      const key = authenticatedId(payload, e);
      const seenKey = `${e.from_account}:${key}`;
      if (this.seen.has(seenKey)) return;
      this.seen.add(seenKey);
      page.seen.push(seenKey);
      if (mine) {
        if (!payload.to) return;
        const msg = { id: key, dir: "out", body: String(payload.body), at: payload.sent_at || e.sent_at, state: "sent" };
        await this._received(page, payload.to, msg);
        return;
      }
      const msg = { id: key, dir: "in", body: String(payload.body ?? ""), at: Number(payload.sent_at) || e.sent_at, receivedAt: Date.now() };
      await this._received(page, e.from_account, msg);
    } else if (payload.type === "receipt" && !mine && receiptIdsOf(payload)) {
      const conv = await this.conversation(e.from_account);
      const ids = new Set(receiptIdsOf(payload));
      // Newest first: this page's own messages (not in the conversation yet), then the conversation's.
      const added = page.added.filter(([id]) => id === e.from_account).map(([, m]) => m);
      for (const list of [added, conv]) for (let i = list.length - 1; i >= 0 && ids.size; i--) {
        const m = list[i];
        if (m.dir === "out" && ids.delete(m.id)) {
          m.state = "delivered";
          this._stageMsg(puts, e.from_account, m, page);
        }
      }
      touched.add(e.from_account);
    } else if (payload.type === "profile" && !mine) {
      // A contact's display name: kept in the state written with this page (before the ack), then copied to
      // the account's vault by app/names.js. A name breaking the rules is dropped. Our own devices' copies are
      // ignored: the account's display name is its vault's PROFILE record.
      // An older name (the sender's clock, authenticated in the ciphertext) never replaces a newer one.
      const name = displayNameOf(payload);
      const at = Number(payload.sent_at) || 0;
      const known = (this.d.state.profiles ||= {})[e.from_account];
      if (name === null || (known && known.at > at)) return;
      this.d.state.profiles[e.from_account] = { name, at };
      this.d.emit("profile", { accountId: e.from_account, displayName: name });
    } else if (payload.type === "signal") {
      this.d.emit("signal", { from_account: e.from_account, from_device: e.from_device, payload });
    }
  }

  async _applyFile(e, payload, mine, page) {
    const key = authenticatedId(payload, e);
    const seenKey = `${e.from_account}:${key}`;
    if (this.seen.has(seenKey)) return;
    let pointer;
    try {
      pointer = pointerFromWire(payload.file);
    } catch {
      // Refused by the rules of PROTOCOL §11.1: nothing of it is shown.
      this.seen.add(seenKey);
      page.seen.push(seenKey);
      return this._notice(mine ? payload.to : e.from_account, "A file could not be read: its description was invalid.", e, page);
    }
    this.seen.add(seenKey);
    page.seen.push(seenKey);
    const file = pointerToWire(pointer);
    const at = Number(payload.sent_at) || e.sent_at;
    if (mine) {
      if (!payload.to) return;
      const msg = { id: key, dir: "out", kind: "file", file, body: pointer.name, at, state: "sent" };
      await this._received(page, payload.to, msg);
      return;
    }
    const msg = { id: key, dir: "in", kind: "file", file, body: pointer.name, at, receivedAt: Date.now() };
    await this._received(page, e.from_account, msg);
  }

  /**
   * A message of this page for the conversation with `accountId`: staged in the page's slice now, but put
   * in the conversation (and counted unread, and receipted) only when the page's write is begun
   * (_pageDone). So no screen shows, and no badge counts, a message before its write: a page cut short
   * (the device locked) leaves nothing on screen that the server will deliver again.
   */
  async _received(page, accountId, msg) {
    await this.conversation(accountId); // loaded before its slices are chosen
    page.added.push([accountId, msg]);
    this._stageMsg(page.puts, accountId, msg, page);
    page.touched.add(accountId);
  }

  /** The page's messages join their conversations (synchronously, just before its write is begun). */
  _pageDone(page) {
    for (const rec of page.slices) {
      rec.name = `msgs:${rec.accountId}:${nextKey()}`;
      rec.page = null;
      page.puts.set(rec.name, rec.msgs);
      this._tails.set(rec.accountId, rec);
    }
    for (const [accountId, msg] of page.added) {
      this.convs.get(accountId).push(msg);
      this._changed(accountId, msg);
      if (msg.dir !== "in") continue;
      const cst = (this.d.state.contacts[accountId] ||= { known: {}, verified: false, keyChanged: false });
      cst.unread = (cst.unread || 0) + 1;
      if (!page.receipts.has(accountId)) page.receipts.set(accountId, []);
      page.receipts.get(accountId).push(msg.id);
    }
  }

  /** A line in the conversation from Confidant itself (e.g. "<name> added a device on <date>"), once per id. */
  async notice(accountId, id, text) {
    const conv = await this.conversation(accountId);
    if (conv.some((m) => m.id === id)) return;
    const msg = { id, dir: "notice", kind: "info", body: text, at: Date.now() };
    conv.push(msg);
    await this.saveMsg(accountId, msg);
    this.d.emit("messages", { accountId });
  }

  async _notice(accountId, text, e, page) {
    if (!accountId || accountId === this.d.me.account_id) return;
    const msg = { id: `notice-${e.pos}`, dir: "notice", body: text, at: e.sent_at || Date.now() };
    await this._received(page, accountId, msg);
  }
}

const PAYLOAD_VERSION = 2;
const textPayload = (to, body, sentAt, id) => ({ v: PAYLOAD_VERSION, id, type: "text", body, sent_at: sentAt, to });
/** The sender's message id from inside the ciphertext (PROTOCOL §20); the relay's id only for old payloads. */
const authenticatedId = (payload, e) => (typeof payload.id === "string" && /^[0-9a-f]{32}$/.test(payload.id) ? payload.id : e.id);

class UntrustedSender extends Error {}

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
