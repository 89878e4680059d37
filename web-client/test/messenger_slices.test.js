// How app/messenger.js keeps received messages: in sealed slices of up to SLICE_MESSAGES, a page's messages
// in slices of their own written only by the page's write (with its cursor), the conversation and the screen
// getting them only once that write is begun; older single-message records still load, in key order.
// Real sessions and envelopes (crypto/session.js) through Messenger.receive; the store is an in-memory
// stand-in for app/vault.js that records every write as it is sealed (a snapshot, as the vault does).
import { test } from "node:test";
import assert from "node:assert/strict";

import { ready } from "../src/crypto/primitives.js";
import { Session } from "../src/crypto/session.js";
import { DeviceKeys } from "../src/app/identity.js";
import { Messenger } from "../src/app/messenger.js";
import { fromB64, fromHex, randomHex, toB64, utf8 } from "../src/lib/bytes.js";

await ready();

const ALICE = "a".repeat(32); // the sender's account
const BOB = "b".repeat(32); // this device's account

class MemoryStore {
  constructor(records = new Map()) {
    this.records = records; // name -> JSON text (what the vault seals)
    this.writes = []; // each write: [[name, value as written], ...]
  }
  async get(name) {
    return this.records.has(name) ? JSON.parse(this.records.get(name)) : undefined;
  }
  write(puts, dels = []) {
    const sealed = [...puts].map(([name, value]) => [name, JSON.stringify(value)]); // sealed when called
    this.writes.push(sealed.map(([name, text]) => [name, JSON.parse(text)]));
    return Promise.resolve().then(() => {
      for (const [name, text] of sealed) this.records.set(name, text);
      for (const name of dels) this.records.delete(name);
    });
  }
  async entries(prefix) {
    return [...this.records.keys()].filter((k) => k.startsWith(prefix)).sort().map((k) => [k, JSON.parse(this.records.get(k))]);
  }
}

function setUp(store = new MemoryStore(), onSender = () => {}, keys = null) {
  const alice = keys ? keys.alice : DeviceKeys.generate();
  const bob = keys ? keys.bob : DeviceKeys.generate();
  const spk = bob.signedPrekeyPublic();
  const [otpk] = bob.newOneTimePrekeys(1);
  const bundle = {
    identityKey: bob.identity.public,
    signedPrekey: { id: spk.id, public: fromB64(spk.public), signature: fromB64(spk.signature) },
    oneTimePrekey: { id: otpk.id, public: fromB64(otpk.public) },
  };
  const sender = Session.initiate(alice.identity, fromHex(alice.data.deviceId), fromHex(bob.data.deviceId), bundle);
  const state = { lastPos: 0, contacts: {} };
  const sent = []; // what the relay was given
  const port = {
    me: { account_id: BOB, device_id: bob.data.deviceId },
    status: "locked", // nothing is sent (receipts stay queued) unless a test unlocks it
    state,
    store,
    keys: bob,
    rt: {
      on() {},
      connected: true,
      state: "online",
      async request(event, body) {
        sent.push([event, body]);
        return event === "send_batch" ? { results: body.sends.map(() => ({ ok: true })) } : {};
      },
    },
    api: {},
    emit() {},
    contact: (account) => (account === ALICE ? { account_id: ALICE } : null),
    contactName: () => "Alice",
    isBlocked: () => false,
    trustedDevices: (account) => (account === ALICE ? [{ device_id: alice.data.deviceId, identity_key: toB64(alice.identity.public) }] : []),
    trustedIdentityKey: (account, device) => {
      onSender();
      return account === ALICE && device === alice.data.deviceId ? alice.identity.public : null;
    },
  };
  let pos = 0;
  const envelopes = (n) =>
    Array.from({ length: n }, (_, i) => {
      const body = `message ${pos + 1}`;
      const plain = utf8(JSON.stringify({ v: 2, id: randomHex(16), type: "text", body, sent_at: 1000 + i, to: BOB }));
      pos += 1;
      return { pos, id: randomHex(16), from_account: ALICE, from_device: alice.data.deviceId, sent_at: 1000 + i, ciphertext: toB64(sender.encrypt(plain).bytes) };
    });
  return { messenger: new Messenger(port), store, state, envelopes, port, sent, keys: { alice, bob } };
}

const bodies = (conv) => conv.map((m) => m.body);
const numbered = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => `message ${from + i}`);

test("a page of 60 messages is one write of three slices, and loads back in order", async () => {
  const { messenger, store, envelopes } = setUp();
  const { written } = await messenger.receive(envelopes(60));
  await written;
  const page = store.writes.at(-1);
  const slices = page.filter(([name]) => name.startsWith(`msgs:${ALICE}:`));
  assert.deepEqual(slices.map(([, msgs]) => msgs.length), [25, 25, 10]);
  assert.ok(page.some(([name]) => name === "state"), "the cursor is in the same write");
  assert.deepEqual(bodies(await messenger.conversation(ALICE)), numbered(1, 60));

  const again = setUp(new MemoryStore(store.records)).messenger;
  assert.deepEqual(bodies(await again.conversation(ALICE)), numbered(1, 60));
});

test("a write from elsewhere during a page stores none of the page, and the order survives a reload", async () => {
  let calls = 0;
  let during = null;
  const ctx = setUp(new MemoryStore(), () => {
    calls += 1;
    if (calls === 31) {
      // Mid-page: nothing of the page is in the conversation yet; a notice is written on its own.
      during = { shown: ctx.messenger.convs.get(ALICE).length, notice: ctx.messenger.notice(ALICE, "n1", "a line from Confidant") };
    }
  });
  const { messenger, store, envelopes } = ctx;
  await messenger.conversation(ALICE);
  const { written } = await messenger.receive(envelopes(50));
  await written;
  await during.notice;
  assert.equal(during.shown, 0, "no message of the page was in the conversation before its write");
  const noticeWrite = store.writes.find((w) => w.some(([, v]) => Array.isArray(v) && v.some((m) => m.id === "n1")));
  const noticeRecords = noticeWrite.filter(([name]) => name.startsWith("msgs:"));
  assert.deepEqual(noticeRecords.map(([, msgs]) => msgs.map((m) => m.id)), [["n1"]], "the notice's write holds only the notice");
  assert.ok(!noticeWrite.some(([name]) => name === "state"));

  const live = bodies(await messenger.conversation(ALICE));
  const reloaded = bodies(await setUp(new MemoryStore(store.records)).messenger.conversation(ALICE));
  assert.deepEqual(reloaded, live);
  assert.deepEqual(live.filter((b) => b.startsWith("message")), numbered(1, 50));
  assert.equal(live.length, 51);
});

test("messages stored one per record before slices load first, in key order, and slices follow", async () => {
  const old = new Map();
  for (let i = 1; i <= 3; i++) {
    const key = String(1_700_000_000_000_000 + i).padStart(17, "0");
    old.set(`msg:${ALICE}:${key}`, JSON.stringify({ id: `old${i}`, dir: "in", body: `old ${i}`, at: i }));
  }
  const { messenger, store, envelopes } = setUp(new MemoryStore(old));
  assert.deepEqual(bodies(await messenger.conversation(ALICE)), ["old 1", "old 2", "old 3"]);
  const { written } = await messenger.receive(envelopes(2));
  await written;
  const reloaded = bodies(await setUp(new MemoryStore(store.records)).messenger.conversation(ALICE));
  assert.deepEqual(reloaded, ["old 1", "old 2", "old 3", "message 1", "message 2"]);
  // A change to an old message rewrites its own record, still one message.
  const conv = await messenger.conversation(ALICE);
  conv[0].body = "old 1, changed";
  await messenger.saveMsg(ALICE, conv[0]);
  assert.deepEqual(store.writes.at(-1).map(([name, v]) => [name.split(":")[0], v.body]), [["msg", "old 1, changed"]]);
});

test("messages written from here fill the conversation's newest slice, 25 to a record", async () => {
  const { messenger, store } = setUp();
  await messenger.conversation(ALICE);
  for (let i = 1; i <= 30; i++) await messenger.notice(ALICE, `n${i}`, `notice ${i}`);
  const names = new Set([...store.records.keys()].filter((k) => k.startsWith("msgs:")));
  assert.equal(names.size, 2);
  assert.deepEqual(store.writes.at(-1).map(([, v]) => v.length), [5]);
  const reloaded = await setUp(new MemoryStore(store.records)).messenger.conversation(ALICE);
  assert.deepEqual(bodies(reloaded), Array.from({ length: 30 }, (_, i) => `notice ${i + 1}`));
});

test("a send in the middle of a page stores no session moved past the page: after a crash, every message decrypts again", async () => {
  let calls = 0;
  let reply = null;
  const ctx = setUp(new MemoryStore(), () => {
    calls += 1;
    if (calls === 31) reply = ctx.messenger.send(ALICE, "a reply written while the backlog drains");
  });
  const { messenger, store, envelopes, port } = ctx;
  port.status = "ready";
  const bobBefore = JSON.parse(JSON.stringify(ctx.keys.bob.data)); // the keys as stored before the page
  const page = envelopes(50);
  const { written } = await messenger.receive(page);
  await written;
  await reply;
  await messenger.flush();
  assert.ok(ctx.sent.some(([event]) => event === "send" || event === "send_batch"), "the reply went out");
  // The tab dies just before the page's write: the store holds only the writes before it.
  const pageWrite = store.writes.findIndex((w) => w.some(([name, v]) => name === "state" && v.lastPos === 50));
  assert.ok(pageWrite >= 0);
  const before = new Map();
  for (const w of store.writes.slice(0, pageWrite)) for (const [name, value] of w) before.set(name, JSON.stringify(value));
  assert.ok(![...before.keys()].some((name) => name.startsWith("session:")), "no session was stored before the page's write");
  const keys = { alice: ctx.keys.alice, bob: new DeviceKeys(JSON.parse(before.get("keys") || JSON.stringify(bobBefore))) };
  const again = setUp(new MemoryStore(before), () => {}, keys);
  again.state.lastPos = before.has("state") ? JSON.parse(before.get("state")).lastPos : 0;
  await again.messenger.load();
  // The server delivers the page again (it was never acknowledged).
  await (await again.messenger.receive(page)).written;
  const shown = bodies(await again.messenger.conversation(ALICE)).filter((b) => b.startsWith("message"));
  assert.deepEqual(shown, numbered(1, 50));
});
