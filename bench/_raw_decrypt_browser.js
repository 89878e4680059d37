// The browser's raw decrypt rate: Session.decrypt (web-client/src/crypto) in a loop on one chain, nothing else.
// Bundled by bench/_backlog_browser.py (Vite, one IIFE with libsodium inlined) and evaluated in the same page
// as the backlog it is compared with. Same payload size as the SDK's raw loop (bench/backlog.py).
import { ready } from "../web-client/src/crypto/primitives.js";
import { Session } from "../web-client/src/crypto/session.js";
import { IdentityKeyPair, generateOneTimePrekeys, generateSignedPrekey } from "../web-client/src/crypto/keys.js";
import { randomHex, utf8 } from "../web-client/src/lib/bytes.js";

const device = () => crypto.getRandomValues(new Uint8Array(16));

/** Messages per second that Session.decrypt alone manages in this page (in order, one chain). */
export async function rawDecryptRate(count) {
  await ready();
  const alice = IdentityKeyPair.generate();
  const bob = IdentityKeyPair.generate();
  const aDev = device();
  const bDev = device();
  const spk = generateSignedPrekey(bob, 1);
  const [otk] = generateOneTimePrekeys(1, 1);
  const bundle = {
    identityKey: bob.public,
    signedPrekey: { id: spk.id, public: spk.keyPair.public, signature: spk.signature },
    oneTimePrekey: { id: otk.id, public: otk.keyPair.public },
  };
  const sender = Session.initiate(alice, aDev, bDev, bundle);
  // What the SDK sends for a 100-character text (client/payload.py), as the backlog's messages.
  const payload = { v: 2, id: randomHex(16), type: "text", body: "x".repeat(100), sent_at: Date.now(), to: randomHex(16) };
  const plain = utf8(JSON.stringify(payload));
  const { session } = Session.accept(bob, bDev, () => spk, () => otk, sender.encrypt(plain).bytes);
  const wires = [];
  for (let i = 0; i < count; i++) wires.push(sender.encrypt(plain).bytes);
  const started = performance.now();
  for (const wire of wires) session.decrypt(wire);
  return count / ((performance.now() - started) / 1000);
}
