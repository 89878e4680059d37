// Known-answer vectors shared with the Python implementation (tests/vectors/*.json): every one must match
// byte for byte. Run with `node --test test/` (tests/browser/test_js_vectors.py runs it from pytest).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { ready, sha256 } from "../src/crypto/primitives.js";
import * as errors from "../src/crypto/errors.js";
import { concat, fromHex, toHex, utf8 } from "../src/lib/bytes.js";
import * as keywrap from "../src/crypto/keywrap.js";
import * as boxed from "../src/crypto/signaling.js";
import * as attachments from "../src/crypto/attachments.js";
import { safetyNumber, fingerprintHash } from "../src/crypto/fingerprint.js";
import { argon2id, blake2b } from "../src/crypto/primitives.js";
import { IdentityKeyPair, X25519KeyPair, bundleFromBytes, bundleToBytes, signedPrekeyMessage } from "../src/crypto/keys.js";
import * as x3dh from "../src/crypto/x3dh.js";
import { encodeInitialMessage, parseEnvelope, wireName } from "../src/crypto/envelope.js";
import { Session } from "../src/crypto/session.js";
import * as signed from "../src/crypto/signed.js";
import * as link from "../src/crypto/link.js";

const here = dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.CONFIDANT_VECTORS || join(here, "..", "..", "tests", "vectors");
const load = (name) => JSON.parse(readFileSync(join(VECTORS, name), "utf8"));
const has = (name) => readdirSync(VECTORS).includes(name);
const H = fromHex;

await ready();

function identity(v) {
  const id = new IdentityKeyPair(H(v.seed));
  assert.equal(toHex(id.public), v.public);
  if (v.x25519_secret) assert.equal(toHex(id.x.secret), v.x25519_secret);
  if (v.x25519_public) assert.equal(toHex(id.x.public), v.x25519_public);
  return id;
}

const kp = (v) => {
  const k = new X25519KeyPair(H(v.secret));
  assert.equal(toHex(k.public), v.public);
  return k;
};

test("x3dh vectors", () => {
  const data = load("x3dh.json");
  assert.ok(data.cases.length > 0);
  for (const c of data.cases) {
    const alice = identity(c.alice_identity);
    const bob = identity(c.bob_identity);
    const spk = { id: c.bob_signed_prekey.id, keyPair: kp(c.bob_signed_prekey) };
    assert.equal(toHex(signedPrekeyMessage(spk.id, spk.keyPair.public)), c.bob_signed_prekey.signed_message, c.name);
    assert.equal(toHex(bob.sign(signedPrekeyMessage(spk.id, spk.keyPair.public))), c.bob_signed_prekey.signature, c.name);
    const otpk = c.bob_one_time_prekey ? { id: c.bob_one_time_prekey.id, keyPair: kp(c.bob_one_time_prekey) } : null;
    const bundle = bundleFromBytes(H(c.bundle));
    assert.equal(toHex(bundleToBytes(bundle)), c.bundle);
    const { message, secret } = x3dh.initiate(alice, bundle, kp(c.alice_ephemeral));
    assert.equal(toHex(encodeInitialMessage(message)), c.initial_message, c.name);
    assert.equal(toHex(secret.key), c.shared_secret, c.name);
    assert.equal(toHex(secret.ad), c.associated_data, c.name);
    const bobSecret = x3dh.respond(bob, spk, otpk, message);
    assert.equal(toHex(bobSecret.key), c.shared_secret, c.name);
    assert.equal(toHex(bobSecret.ad), c.associated_data, c.name);
  }
});

test("envelope vectors", () => {
  const data = load("envelope.json");
  for (const v of data.valid) {
    const env = parseEnvelope(H(v.envelope));
    assert.equal(env.version, v.version);
    assert.equal(wireName(env.type), v.type);
    assert.equal(toHex(env.senderDevice), v.sender_device);
    assert.equal(toHex(env.recipientDevice), v.recipient_device);
    assert.equal(toHex(env.header.dh), v.header.dh);
    assert.equal(env.header.pn, v.header.pn);
    assert.equal(env.header.n, v.header.n);
    assert.equal(toHex(env.ciphertext), v.ciphertext);
    if (v.initial_message) {
      const im = env.initialMessage;
      assert.equal(toHex(im.identityKey), v.initial_message.identity_key);
      assert.equal(toHex(im.ephemeralKey), v.initial_message.ephemeral_key);
      assert.equal(im.signedPrekeyId, v.initial_message.signed_prekey_id);
      assert.equal(im.oneTimePrekeyId, v.initial_message.one_time_prekey_id);
    } else assert.equal(env.initialMessage, null);
  }
  for (const v of data.invalid) {
    const raw = v.append_zeros ? concat(H(v.envelope), new Uint8Array(v.append_zeros)) : H(v.envelope);
    assert.throws(() => parseEnvelope(raw), (e) => e instanceof errors[v.error] && e.name === v.error, v.name);
  }
});

test("ratchet session transcript", () => {
  const d = load("ratchet.json");
  const alice = identity(d.alice.identity);
  const bob = identity(d.bob.identity);
  const aliceDev = H(d.alice.device_id), bobDev = H(d.bob.device_id);
  const spk = { id: d.bob.signed_prekey.id, keyPair: kp(d.bob.signed_prekey) };
  const otpk = { id: d.bob.one_time_prekey.id, keyPair: kp(d.bob.one_time_prekey) };
  const bundle = bundleFromBytes(H(d.bundle));
  const sessions = {
    alice: Session.initiate(alice, aliceDev, bobDev, bundle, { ephemeral: kp(d.alice_ephemeral), ratchetKey: kp(d.alice_initial_ratchet_key) }),
    bob: null,
  };
  const sent = {};
  const stateHash = (party) => toHex(sha256(sessions[party].toBytes()));
  for (const step of d.steps) {
    const where = `${step.op} ${step.party} ${step.label}`;
    if (step.op === "encrypt") {
      const { type, bytes } = sessions[step.party].encrypt(H(step.plaintext));
      assert.equal(wireName(type), step.type, where);
      assert.equal(toHex(bytes), step.envelope, where);
      const env = parseEnvelope(bytes);
      assert.equal(toHex(env.header.dh) + toHex(bytes.slice(bytes.length - env.ciphertext.length - 8, bytes.length - env.ciphertext.length)), step.header, where);
      assert.equal(toHex(env.ciphertext), step.ciphertext, where);
      sent[step.label] = bytes;
    } else {
      const envelope = step.envelope ? H(step.envelope) : sent[step.label];
      const ratchetKey = step.ratchet_key ? kp(step.ratchet_key) : null;
      const act = () => {
        if (step.party === "bob" && sessions.bob === null) {
          const r = Session.accept(bob, bobDev, (id) => (id === spk.id ? spk : null), (id) => (id === otpk.id ? otpk : null), envelope, { ratchetKey });
          sessions.bob = r.session;
          return { plaintext: r.plaintext, used: r.usedOneTimePrekeyId };
        }
        return { plaintext: sessions[step.party].decrypt(envelope, { ratchetKey }) };
      };
      if (step.error) {
        const before = sessions[step.party] && toHex(sessions[step.party].toBytes());
        assert.throws(act, (e) => e.name === step.error, where);
        if (before) assert.equal(toHex(sessions[step.party].toBytes()), before, `${where}: state unchanged`);
      } else {
        const r = act();
        assert.equal(toHex(r.plaintext), step.plaintext, where);
        if ("used_one_time_prekey_id" in step) assert.equal(r.used, step.used_one_time_prekey_id, where);
      }
    }
    if (step.state_sha256 && sessions[step.party]) assert.equal(stateHash(step.party), step.state_sha256, `${where}: state`);
  }
  assert.equal(toHex(sessions.alice.toBytes()), d.final_state.alice);
  assert.equal(toHex(sessions.bob.toBytes()), d.final_state.bob);
  // Round trip through the serialised form, as the app persists it.
  assert.equal(toHex(Session.fromBytes(sessions.bob.toBytes()).toBytes()), d.final_state.bob);
});

test("signed message vectors (PROTOCOL §16.1)", () => {
  const d = load("signed.json");
  const signers = { device: new IdentityKeyPair(H(d.device.seed)), account: new IdentityKeyPair(H(d.account.seed)) };
  assert.equal(toHex(signers.device.public), d.device.public);
  assert.equal(toHex(signers.account.public), d.account.public);
  for (const c of d.cases) {
    const i = c.inputs;
    let msg;
    if (c.name === "auth") msg = signed.authMessage(H(i.nonce), H(i.device_id));
    else if (c.name === "consent")
      msg = signed.consentMessage({ therapistId: H(i.therapist_id), clientId: H(i.client_id), version: i.version, termsHash: H(i.terms_hash), signedAt: i.signed_at });
    else if (c.name === "signed_prekey") msg = signed.signedPrekeyMessage(i.id, H(i.public));
    else if (c.name === "certificate") msg = signed.certificateMessage(H(i.account_id), H(i.device_id), H(i.identity_key), i.created_at);
    else assert.fail(`unknown signed message ${c.name}`);
    assert.equal(toHex(msg), c.message, c.name);
    assert.equal(toHex(signers[c.signer].sign(msg)), c.signature, c.name);
  }
  const cert = d.certificate;
  const issued = signed.issueCertificate(signers.account, H(cert.account_id), H(cert.device_id), H(cert.identity_key), cert.created_at);
  assert.equal(toHex(signed.certificateToBytes(issued)), cert.bytes);
  const parsed = signed.certificateFromBytes(H(cert.bytes));
  signed.verifyCertificate(signers.account.public, H(cert.account_id), H(cert.device_id), H(cert.identity_key), parsed);
  for (const bad of cert.invalid) {
    const v = { ...cert, account_key: d.account.public, ...bad };
    const c2 = { ...parsed, createdAt: v.created_at };
    assert.throws(() => signed.verifyCertificate(H(v.account_key), H(v.account_id), H(v.device_id), H(v.identity_key), c2), (e) => e.name === bad.error, bad.name);
  }
});

test("linking vectors (PROTOCOL §17)", () => {
  const d = load("linking.json");
  const n = kp(d.new_link_key), e = kp(d.offer_key);
  assert.equal(link.base32Encode(concat(Uint8Array.of(2), n.public)), d.link_code);
  assert.equal(link.linkCodeText(n.public), d.link_code_display);
  assert.equal(toHex(link.parseLinkCode(d.link_code_display.toLowerCase())), d.new_link_key.public);
  assert.equal(toHex(link.linkId(n.public)), d.link_id);
  assert.equal(toHex(n.dh(e.public)), d.dh);
  const t = link.transcript({ linkId: H(d.link_id), newLinkKey: n.public, offerKey: e.public, accountId: H(d.account_id), deviceId: H(d.device_id), identityKey: H(d.identity_key) });
  assert.equal(toHex(t), d.transcript);
  const sideN = link.linkSecrets(n.secret, e.public, t), sideE = link.linkSecrets(e.secret, n.public, t);
  assert.equal(sideN.comparison, d.comparison);
  assert.equal(sideE.comparison, d.comparison);
  assert.equal(link.showComparison(d.comparison), d.comparison_display);
  assert.equal(toHex(sideN.bundleKey), d.bundle_key);
  const account = new IdentityKeyPair(H(d.account.seed));
  assert.equal(toHex(account.public), d.account.public);
  const cert = signed.certificateFromBytes(H(d.certificate));
  signed.verifyCertificate(account.public, H(d.account_id), H(d.device_id), H(d.identity_key), cert);
  const secrets = d.secrets.map((x) => ({ type: x.type, value: H(x.value) }));
  const bundle = link.encodeAccountBundle({ accountId: H(d.account_id), accountSeed: H(d.account.seed), certificate: cert, secrets });
  assert.equal(toHex(bundle), d.account_bundle);
  const sealed = link.sealAccountBundle(sideE.bundleKey, t, bundle, H(d.nonce));
  assert.equal(toHex(sealed), d.sealed_bundle);
  const opened = link.decodeAccountBundle(link.openAccountBundle(sideN.bundleKey, t, sealed));
  assert.equal(toHex(opened.accountSeed), d.account.seed);
  assert.deepEqual(opened.secrets.map((x) => [x.type, toHex(x.value)]), d.secrets.map((x) => [x.type, x.value]));
  const swappedT = link.transcript({ linkId: H(d.link_id), newLinkKey: n.public, offerKey: H(d.swapped_offer_key), accountId: H(d.account_id), deviceId: H(d.device_id), identityKey: H(d.identity_key) });
  assert.equal(link.linkSecrets(n.secret, H(d.swapped_offer_key), swappedT).comparison, d.swapped_comparison);
  assert.notEqual(d.swapped_comparison, d.comparison);
  for (const c of d.invalid_codes) assert.throws(() => link.parseLinkCode(c.code), (err) => err.name === c.error, c.name);
  assert.throws(() => link.openAccountBundle(sideN.bundleKey, t, H(d.tampered_sealed_bundle.sealed)), (err) => err.name === d.tampered_sealed_bundle.error);
  const u = d.bundle_under_swapped_transcript;
  assert.throws(() => link.openAccountBundle(sideN.bundleKey, H(u.transcript), sealed), (err) => err.name === u.error);
});

test("replay key vector (PROTOCOL §19)", () => {
  const d = load("replay.json");
  assert.equal(toHex(link.replayKey(H(d.identity_key), H(d.ephemeral_key))), d.replay_key);
});

const COVERED = ["signed.json", "linking.json", "replay.json", "x3dh.json", "envelope.json", "ratchet.json", "keywrap.json", "boxed.json", "fingerprint.json", "attachment.json", "file_message.json", "vault.json", "erase_account.json", "names.json", "custodian.json", "schedule_notice.json", "call_control.json", "receipt.json"]; // file_message.json: test/files.test.js; erase_account.json: test/ending.test.js; names.json: test/names.test.js; custodian.json: test/custodian.test.js; schedule_notice.json: test/schedule.test.js; call_control.json: test/fallback.test.js; receipt.json: test/receipt.test.js

test("keywrap vectors", () => {
  const d = load("keywrap.json");
  for (const c of d.cases) {
    assert.equal(toHex(utf8(c.passphrase)), c.passphrase_utf8, c.name);
    assert.equal(toHex(argon2id(utf8(c.passphrase), H(c.salt), c.opslimit, c.memlimit)), c.key, c.name);
    const wrapped = keywrap.wrap(c.passphrase, H(c.keystore), { opslimit: c.opslimit, memlimit: c.memlimit, salt: H(c.salt), nonce: H(c.nonce) });
    assert.equal(toHex(wrapped), c.wrapped, c.name);
    assert.equal(toHex(keywrap.unwrap(c.passphrase, H(c.wrapped))), c.keystore, c.name);
  }
  const w = d.wrong_passphrase;
  const c = d.cases.find((x) => x.name === w.case);
  assert.throws(() => keywrap.unwrap(w.passphrase, H(c.wrapped)), (e) => e.name === w.error);
  for (const r of d.rejections || []) {
    assert.throws(() => keywrap.unwrap(r.passphrase ?? c.passphrase, H(r.wrapped)), (e) => e.name === r.error, r.name);
  }
});

test("boxed signaling vectors", () => {
  const d = load("boxed.json");
  const session = H(d.session_id);
  const join = (idv, jv) => {
    const ik = identity(idv);
    const eph = kp(jv.ephemeral);
    assert.equal(toHex(boxed.joinMessage(session, H(jv.device_id), H(jv.join_id), eph.public)), jv.signed_message);
    const j = boxed.createJoin(ik, session, H(jv.device_id), { ephemeral: eph, joinId: H(jv.join_id) });
    assert.equal(toHex(j.statement), jv.statement);
    const v = boxed.verifyJoin(ik.public, session, H(jv.device_id), j.statement);
    assert.equal(toHex(v.ephemeral), jv.ephemeral.public);
    return { ...j, ephemeral: v.ephemeral };
  };
  const sender = join(d.sender, d.sender_join), recipient = join(d.recipient, d.recipient_join);
  const rejoined = join(d.recipient, d.recipient_rejoin);
  const ctx = (c) => ({ sessionId: H(c.session_id), fromDevice: H(c.from_device), toDevice: H(c.to_device), fromJoin: H(c.from_join), toJoin: H(c.to_join) });
  const base = ctx(d.context);
  for (const c of d.cases) {
    const out = boxed.seal(sender, recipient, base, { seq: c.seq, payload: H(c.payload), nonce: H(c.nonce) });
    assert.equal(toHex(out), c.boxed, `seq ${c.seq}`);
    const r = boxed.open(recipient, sender, out, base, c.seq - 1);
    assert.equal(r.seq, c.seq);
    assert.equal(toHex(r.payload), c.payload);
  }
  const callee = identity(d.recipient);
  for (const r of d.join_rejections) {
    assert.throws(() => boxed.verifyJoin(callee.public, session, H(r.device_id), H(r.statement)), (e) => e.name === r.error, r.name);
  }
  assert.ok(d.rejections.length > 0);
  for (const r of d.rejections) {
    const context = r.context ? ctx(r.context) : base;
    let [me, them] = [r.recipient_rejoined ? rejoined : recipient, sender];
    if (r.swap_parties) [me, them] = [them, me];
    assert.throws(() => boxed.open(me, them, H(r.boxed), context, r.last_seq), (e) => e.name === r.error, r.name);
  }
});

test("fingerprint vectors", () => {
  const d = load("fingerprint.json");
  const a = d.alice, b = d.bob;
  assert.equal(d.version, 2);
  assert.equal(toHex(fingerprintHash(H(a.account_key), H(a.account_id))), a.hash);
  assert.equal(toHex(fingerprintHash(H(b.account_key), H(b.account_id))), b.hash);
  const fp = link.invitationFingerprint(H(a.account_id), H(a.account_key));
  assert.equal(toHex(fp), a.invitation_fingerprint);
  assert.equal(link.b64url(fp), a.invitation_fingerprint_text);
  assert.equal(toHex(link.fromB64url(a.invitation_fingerprint_text)), a.invitation_fingerprint);
  for (const [x, y] of [[a, b], [b, a]]) {
    const sn = safetyNumber(H(x.account_key), H(x.account_id), H(y.account_key), H(y.account_id));
    assert.equal(sn.number, d.safety_number);
    assert.equal(sn.groups.join(" "), d.display);
    assert.equal(toHex(sn.qr), d.qr_payload);
  }
});

test("attachment vectors", () => {
  const d = load("attachment.json");
  assert.equal(d.chunk_bytes, attachments.CHUNK);
  const blobs = {};
  for (const c of d.cases) {
    const data = new Uint8Array(c.size);
    for (let i = 0; i < c.size; i++) data[i] = i % 251;
    const { blob, pointer } = attachments.encrypt(data, { key: H(c.key), header: H(c.header) });
    assert.equal(blob.length, c.blob_length, c.name);
    assert.equal(toHex(pointer), c.pointer, c.name);
    assert.equal(toHex(blake2b(blob, 32)), c.digest, c.name);
    const chunks = [];
    for (let off = 24; off < blob.length; off += attachments.CHUNK + 17) chunks.push(blob.slice(off, off + attachments.CHUNK + 17));
    assert.deepEqual(chunks.map((x) => toHex(blake2b(x, 32))), c.chunk_blake2b, c.name);
    if (c.final_chunk) assert.equal(toHex(chunks[chunks.length - 1]), c.final_chunk, c.name);
    if (c.blob) assert.equal(toHex(blob), c.blob, c.name);
    assert.deepEqual(attachments.decrypt(blob, pointer), data, c.name);
    blobs[c.name] = { blob, pointer };
  }
  for (const r of d.rejections) {
    const { blob, pointer } = blobs[r.case];
    let bad = blob;
    const op = r.operation;
    if ("truncate_to" in op) bad = blob.slice(0, op.truncate_to);
    else if ("flip_byte" in op) {
      bad = blob.slice();
      bad[op.flip_byte] ^= 1;
    } else if ("append" in op) bad = concat(blob, H(op.append));
    else if ("swap_chunks" in op) {
      const C = attachments.CHUNK + 17;
      const parts = [blob.slice(0, 24)];
      for (let off = 24; off < blob.length; off += C) parts.push(blob.slice(off, off + C));
      const [i, j] = op.swap_chunks;
      [parts[i + 1], parts[j + 1]] = [parts[j + 1], parts[i + 1]];
      bad = concat(...parts);
    } else assert.fail(`unknown operation ${JSON.stringify(op)}`);
    assert.throws(() => attachments.decrypt(bad, pointer), (e) => e.name === r.error, `${r.case}: ${r.name}`);
  }
});

test("every vector file has a JS check", () => {
  const covered = new Set(COVERED);
  const files = readdirSync(VECTORS).filter((f) => f.endsWith(".json"));
  assert.deepEqual(files.filter((f) => !covered.has(f)), [], "vector files without a JavaScript check");
});
