// The browser's replay cache (docs/PROTOCOL.md §19) on real key material: an accepted session start is
// remembered under its signed prekey id, a second copy is recognised, and the cache stays bounded.
import { test } from "node:test";
import assert from "node:assert/strict";

import { ready } from "../src/crypto/primitives.js";
import { Session } from "../src/crypto/session.js";
import { parseEnvelope } from "../src/crypto/envelope.js";
import { DeviceKeys } from "../src/app/identity.js";
import { fromB64, fromHex } from "../src/lib/bytes.js";

await ready();

function bundleOf(keys, withOneTimePrekey) {
  const spk = keys.signedPrekeyPublic();
  const otpk = withOneTimePrekey ? keys.newOneTimePrekeys(1)[0] : null;
  return {
    identityKey: keys.identity.public,
    signedPrekey: { id: spk.id, public: fromB64(spk.public), signature: fromB64(spk.signature) },
    oneTimePrekey: otpk ? { id: otpk.id, public: fromB64(otpk.public) } : null,
  };
}

test("a session start without a one-time prekey is accepted once, and its replay is recognised", () => {
  const alice = DeviceKeys.generate(), bob = DeviceKeys.generate();
  const s = Session.initiate(alice.identity, fromHex(alice.data.deviceId), fromHex(bob.data.deviceId), bundleOf(bob, false));
  const { bytes } = s.encrypt(new TextEncoder().encode("hello"));
  const im = parseEnvelope(bytes).initialMessage;
  assert.equal(bob.isReplay(im), false);
  const r = Session.accept(bob.identity, fromHex(bob.data.deviceId), (id) => bob.signedPrekey(id), (id) => bob.oneTimePrekey(id), bytes);
  assert.equal(new TextDecoder().decode(r.plaintext), "hello");
  bob.rememberInitialMessage(im);
  // The keystore as saved (JSON in the vault) still knows it after a reload.
  const reloaded = new DeviceKeys(JSON.parse(JSON.stringify(bob.data)));
  assert.equal(reloaded.isReplay(im), true);
  // Another session start from the same sender is a different one, not a replay.
  const s2 = Session.initiate(alice.identity, fromHex(alice.data.deviceId), fromHex(bob.data.deviceId), bundleOf(bob, false));
  assert.equal(reloaded.isReplay(parseEnvelope(s2.encrypt(new TextEncoder().encode("again")).bytes).initialMessage), false);
});

test("the replay cache drops the oldest signed prekey's entries first", () => {
  const bob = DeviceKeys.generate();
  bob.data.replay = { 1: Array.from({ length: 99_999 }, (_, i) => `old${i}`), 2: [] };
  const im = { signedPrekeyId: 2, identityKey: new Uint8Array(32).fill(1), ephemeralKey: new Uint8Array(32).fill(2) };
  bob.rememberInitialMessage(im);
  bob.rememberInitialMessage({ ...im, ephemeralKey: new Uint8Array(32).fill(3) });
  assert.equal(bob.data.replay[1].length + bob.data.replay[2].length, 100_000);
  assert.equal(bob.data.replay[1][0], "old1");
  assert.equal(bob.isReplay(im), true);
});
