// Primitive operations over libsodium (the only module that touches `sodium` directly), mirroring
// crypto/primitives.py: bytes in, bytes out, lengths checked. HKDF and HMAC are RFC 5869 / RFC 2104
// over SHA-256, through libsodium's crypto_auth_hmacsha256_* (synchronous, so the ratchet stays simple).
// libsodium is loaded lazily (its own chunk and a binary .wasm, see web-client/build/sodium-wasm.js): the first
// screens render without it; `ready()` is awaited before the first operation that needs a key.
import { concat } from "../lib/bytes.js";
import { CryptoError, DecryptionFailed, InvalidKey, BadSignature } from "./errors.js";

export let sodium = null;
let loading = null;

/** Resolve once libsodium's WebAssembly is instantiated; every other function needs it. */
export function ready() {
  if (sodium) return Promise.resolve(sodium);
  if (!loading)
    loading = import("libsodium-wrappers-sumo")
      .then(async ({ default: lib }) => {
        await lib.ready;
        sodium = lib;
        return lib;
      })
      .catch((e) => {
        loading = null; // a failed download (offline) may be retried
        throw e;
      });
  return loading;
}

export const X25519_SIZE = 32;
export const ED25519_PUBLIC_SIZE = 32;
export const ED25519_SEED_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;
export const AEAD_KEY_SIZE = 32;
export const AEAD_NONCE_SIZE = 24;
export const AEAD_TAG_SIZE = 16;
export const HASH_SIZE = 32;

function check(value, size, what) {
  if (!(value instanceof Uint8Array) || value.length !== size) throw new InvalidKey(`${what} must be ${size} bytes`);
}

/** The platform's CSPRNG in one call (libsodium.js asks it for 4 bytes at a time: six calls per nonce). */
export function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65536)));
  return out;
}

export function sha256(data) {
  return sodium.crypto_hash_sha256(data);
}

export function sha512(data) {
  return sodium.crypto_hash_sha512(data);
}

export function blake2b(data, size = 32, key = null) {
  return sodium.crypto_generichash(size, data, key && key.length ? key : null);
}

export function hmacSha256(key, data) {
  const st = sodium.crypto_auth_hmacsha256_init(key);
  sodium.crypto_auth_hmacsha256_update(st, data);
  return sodium.crypto_auth_hmacsha256_final(st);
}

/** RFC 5869 HKDF-SHA256; an empty salt means HashLen zero bytes. */
export function hkdfSha256(ikm, salt, info, length) {
  if (!(length > 0 && length <= 255 * HASH_SIZE)) throw new CryptoError("HKDF output length out of range");
  const prk = hmacSha256(salt && salt.length ? salt : new Uint8Array(HASH_SIZE), ikm);
  const out = new Uint8Array(length);
  let block = new Uint8Array(0);
  let off = 0;
  for (let counter = 1; off < length; counter++) {
    block = hmacSha256(prk, concat(block, info, Uint8Array.of(counter)));
    out.set(block.subarray(0, Math.min(block.length, length - off)), off);
    off += block.length;
  }
  return out;
}

export function x25519Public(secret) {
  check(secret, X25519_SIZE, "X25519 secret key");
  return sodium.crypto_scalarmult_base(secret);
}

export function x25519(secret, pub) {
  check(secret, X25519_SIZE, "X25519 secret key");
  check(pub, X25519_SIZE, "X25519 public key");
  let out;
  try {
    out = sodium.crypto_scalarmult(secret, pub);
  } catch {
    throw new InvalidKey("X25519 public key has low order");
  }
  if (out.every((b) => b === 0)) throw new InvalidKey("X25519 public key has low order");
  return out;
}

export function ed25519SeedKeypair(seed) {
  check(seed, ED25519_SEED_SIZE, "Ed25519 seed");
  const kp = sodium.crypto_sign_seed_keypair(seed);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

export function ed25519Sign(secretKey, message) {
  check(secretKey, 64, "Ed25519 secret key");
  return sodium.crypto_sign_detached(message, secretKey);
}

export function ed25519Verify(publicKey, message, signature) {
  check(publicKey, ED25519_PUBLIC_SIZE, "Ed25519 public key");
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_SIZE)
    throw new BadSignature("signature must be 64 bytes");
  let ok = false;
  try {
    ok = sodium.crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    ok = false;
  }
  if (!ok) throw new BadSignature("signature does not verify");
}

export function ed25519PublicToX25519(publicKey) {
  check(publicKey, ED25519_PUBLIC_SIZE, "Ed25519 public key");
  try {
    return sodium.crypto_sign_ed25519_pk_to_curve25519(publicKey);
  } catch {
    throw new InvalidKey("Ed25519 public key is not a valid point");
  }
}

export function ed25519SeedToX25519(seed) {
  const { secretKey } = ed25519SeedKeypair(seed);
  return sodium.crypto_sign_ed25519_sk_to_curve25519(secretKey);
}

export function aeadEncrypt(key, nonce, plaintext, ad) {
  check(key, AEAD_KEY_SIZE, "AEAD key");
  check(nonce, AEAD_NONCE_SIZE, "AEAD nonce");
  return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
}

export function aeadDecrypt(key, nonce, ciphertext, ad) {
  check(key, AEAD_KEY_SIZE, "AEAD key");
  check(nonce, AEAD_NONCE_SIZE, "AEAD nonce");
  if (ciphertext.length < AEAD_TAG_SIZE) throw new DecryptionFailed("ciphertext shorter than its tag");
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
  } catch {
    throw new DecryptionFailed("message authentication failed");
  }
}

export function boxSeal(senderSecret, recipientPublic, nonce, plaintext) {
  check(senderSecret, X25519_SIZE, "X25519 secret key");
  check(recipientPublic, X25519_SIZE, "X25519 public key");
  check(nonce, 24, "box nonce");
  return sodium.crypto_box_easy(plaintext, nonce, recipientPublic, senderSecret);
}

export function boxOpen(recipientSecret, senderPublic, nonce, ciphertext) {
  check(recipientSecret, X25519_SIZE, "X25519 secret key");
  check(senderPublic, X25519_SIZE, "X25519 public key");
  check(nonce, 24, "box nonce");
  if (ciphertext.length < 16) throw new DecryptionFailed("ciphertext shorter than its MAC");
  try {
    return sodium.crypto_box_open_easy(ciphertext, nonce, senderPublic, recipientSecret);
  } catch {
    throw new DecryptionFailed("message authentication failed");
  }
}

export function argon2id(passphrase, salt, opslimit, memlimit, size = 32) {
  check(salt, 16, "Argon2id salt");
  return sodium.crypto_pwhash(size, passphrase, salt, opslimit, memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
}

/** secretstream push state initialised from an explicit header (deterministic, as crypto/primitives.py). */
export function secretstreamPush(key, header) {
  check(key, 32, "secretstream key");
  if (!header) header = randomBytes(24);
  const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
  return {
    header,
    push(chunk, final) {
      const tag = final
        ? sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        : sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
      return sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, null, tag);
    },
  };
}

export function secretstreamPull(key, header) {
  check(key, 32, "secretstream key");
  const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
  return {
    pull(chunk) {
      let r;
      try {
        r = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk, null);
      } catch {
        r = false;
      }
      if (!r) throw new DecryptionFailed("attachment chunk authentication failed");
      return [r.message, r.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL];
    },
  };
}
