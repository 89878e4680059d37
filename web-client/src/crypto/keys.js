// Identity keys (Ed25519 seeds), X25519 key pairs, signed and one-time prekeys, bundles
// (docs/PROTOCOL.md, "Keys"; crypto/keys.py). Bundle bytes, integers big-endian:
//   identity_key 32 | spk_id u32 | spk_public 32 | spk_signature 64 | has_otpk u8 | [otpk_id u32 | otpk 32]
import * as p from "./primitives.js";
import { concat, u32be, utf8, equalBytes, readU32be } from "../lib/bytes.js";
import { InvalidKey, MalformedEnvelope } from "./errors.js";

export const KEY_TYPE_X25519 = 0x05;
export const KEY_TYPE_ED25519 = 0x06;
export const SIGNED_PREKEY_CONTEXT = utf8("confidant-signed-prekey-v1");

export function checkId(id) {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new InvalidKey("prekey id must be an unsigned 32-bit integer");
}

export class X25519KeyPair {
  constructor(secret) {
    if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new InvalidKey("X25519 secret key must be 32 bytes");
    this.secret = secret;
    this.public = p.x25519Public(secret);
  }
  static generate() {
    return new X25519KeyPair(p.randomBytes(32));
  }
  dh(pub) {
    return p.x25519(this.secret, pub);
  }
}

/** Encode(IK) of X3DH for an Ed25519 identity key: 0x06 || key. */
export const encodeIdentity = (pub) => concat(Uint8Array.of(KEY_TYPE_ED25519), pub);

export class IdentityKeyPair {
  constructor(seed) {
    const { publicKey, secretKey } = p.ed25519SeedKeypair(seed);
    this.seed = seed;
    this.signKey = secretKey;
    this.public = publicKey;
    this.x = new X25519KeyPair(p.ed25519SeedToX25519(seed));
  }
  static generate() {
    return new IdentityKeyPair(p.randomBytes(32));
  }
  sign(message) {
    return p.ed25519Sign(this.signKey, message);
  }
}

export const identityToX25519 = (pub) => p.ed25519PublicToX25519(pub);

export function signedPrekeyMessage(id, pub) {
  checkId(id);
  if (pub.length !== 32) throw new InvalidKey("signed prekey must be 32 bytes");
  return concat(SIGNED_PREKEY_CONTEXT, u32be(id), pub);
}

export function verifySignedPrekey(identityKey, id, pub, signature) {
  p.ed25519Verify(identityKey, signedPrekeyMessage(id, pub), signature);
}

export function generateSignedPrekey(identity, id, keyPair = null) {
  const kp = keyPair || X25519KeyPair.generate();
  return { id, keyPair: kp, signature: identity.sign(signedPrekeyMessage(id, kp.public)) };
}

// Key pairs made ahead of need, a few per task, so that a first registration (100 one-time prekeys, ~130 ms of
// main thread on a slow phone) does not freeze the page when the person submits. Only fresh random pairs sit
// here; each is handed out once, and ids are given when they are.
const pool = [];
let filling = null;

/** Make `count` X25519 key pairs ahead of time, `slice` per task, yielding to the page in between. */
export function prepareOneTimePrekeys(count, slice = 10) {
  if (!filling)
    filling = (async () => {
      while (pool.length < count) {
        for (let i = 0; i < slice && pool.length < count; i++) pool.push(X25519KeyPair.generate());
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    })().finally(() => (filling = null));
  return filling;
}

export function generateOneTimePrekeys(startId, count) {
  const out = [];
  for (let i = 0; i < count; i++) out.push({ id: startId + i, keyPair: pool.shift() || X25519KeyPair.generate() });
  return out;
}

/** A bundle as plain data: {identityKey, signedPrekey: {id, public, signature}, oneTimePrekey: {id, public}|null} */
export function verifyBundle(b) {
  verifySignedPrekey(b.identityKey, b.signedPrekey.id, b.signedPrekey.public, b.signedPrekey.signature);
}

export function bundleToBytes(b) {
  const spk = b.signedPrekey;
  const head = concat(b.identityKey, u32be(spk.id), spk.public, spk.signature);
  if (!b.oneTimePrekey) return concat(head, Uint8Array.of(0));
  return concat(head, Uint8Array.of(1), u32be(b.oneTimePrekey.id), b.oneTimePrekey.public);
}

export function bundleFromBytes(raw) {
  const FIXED = 32 + 4 + 32 + 64 + 1;
  if (raw.length !== FIXED && raw.length !== FIXED + 36) throw new MalformedEnvelope("prekey bundle has the wrong size");
  const flag = raw[FIXED - 1];
  if (!((flag === 0 && raw.length === FIXED) || (flag === 1 && raw.length === FIXED + 36)))
    throw new MalformedEnvelope("prekey bundle one-time prekey flag does not match its size");
  return {
    identityKey: raw.slice(0, 32),
    signedPrekey: { id: readU32be(raw, 32), public: raw.slice(36, 68), signature: raw.slice(68, 132) },
    oneTimePrekey: flag ? { id: readU32be(raw, 133), public: raw.slice(137, 169) } : null,
  };
}

export const sameKey = (a, b) => a && b && equalBytes(a, b);
