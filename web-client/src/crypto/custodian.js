// The records custodian (docs/PROTOCOL.md section 24; crypto/custodian.py is the same in Python): a note is
// sealed a second time to the practice's offline custodian key when the client's accepted terms disclose it.
// Reproduces tests/vectors/custodian.json byte for byte.
import { aeadEncrypt, AEAD_NONCE_SIZE, hkdfSha256, randomBytes, sha256, x25519, x25519Public } from "./primitives.js";
import { InvalidKey, MalformedState, TooLarge } from "./errors.js";
import { pad } from "./padding.js";
import { MAX_VAULT_PLAINTEXT_BYTES } from "./limits.js";
import { RecordKind } from "./accountvault.js";
import { concat, fromB64, toB64, toHex, u64be, utf8 } from "../lib/bytes.js";

export const COPY_VERSION = 1;
export const CUSTODIAN_KEY_BYTES = 32;
export const DISCLOSURE_PREFIX = "confidant-custodian-v1:";

const COPY_KEY_INFO = utf8("confidant-custodian-copy-key-v1");
const COPY_AD = utf8("confidant-custodian-copy-v1");
const FINGERPRINT = utf8("confidant-custodian-fingerprint-v1");
const DISCLOSED = /confidant-custodian-v1:([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/g;
const KINDS = new Set(Object.values(RecordKind));

const b64url = (b) => toB64(b).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64url = (s) => fromB64(s.replace(/-/g, "+").replace(/_/g, "/") + "=");

export function encodePublicKey(pub) {
  if (pub.length !== CUSTODIAN_KEY_BYTES) throw new InvalidKey("a custodian public key is 32 bytes");
  return DISCLOSURE_PREFIX + b64url(pub);
}

/** "confidant-custodian-v1:<43 base64url>" (or the 43 characters alone) -> 32 bytes. */
export function decodePublicKey(text) {
  const s = text.trim().replace(DISCLOSURE_PREFIX, "");
  if (!/^[A-Za-z0-9_-]{43}$/.test(s)) throw new InvalidKey("a custodian public key must be 43 base64url characters");
  return unb64url(s);
}

export function custodianFingerprint(pub) {
  const hex = toHex(sha256(concat(FINGERPRINT, pub)).subarray(0, 10));
  return hex.match(/.{4}/g).join(" ");
}

/** The paragraph a therapist adds to their terms (the same words as crypto/custodian.py). */
export function disclosureText(pub) {
  return "Records custodian: if I leave the practice, the practice keeps my notes about you for its legal " +
    "duty to keep records. Each note is also encrypted to the practice's records custodian key " +
    `(fingerprint ${custodianFingerprint(pub)}), whose private half the practice keeps offline; ` +
    `no one else, not the server, can open these copies. Key: ${encodePublicKey(pub)}`;
}

/** The custodian key these terms disclose, or null (none disclosed, or two different keys). */
export function disclosedKey(termsText) {
  const keys = new Set([...String(termsText).matchAll(DISCLOSED)].map((m) => m[1]));
  return keys.size === 1 ? unb64url([...keys][0]) : null;
}

export function copyAd(accountId, recordId, version, custodian) {
  if (accountId.length !== 16 || recordId.length !== 16) throw new InvalidKey("account and record ids must be 16 bytes");
  if (custodian.length !== CUSTODIAN_KEY_BYTES) throw new InvalidKey("a custodian public key is 32 bytes");
  if (!Number.isSafeInteger(version) || version < 1) throw new InvalidKey("record version out of range");
  return concat(COPY_AD, accountId, recordId, u64be(version), custodian);
}

/** The custodian's copy of record `version` (the version its vault record gets). */
export function sealCopy(custodian, accountId, recordId, version, kind, body, ephemeralSecret = null, nonce = null) {
  if (body.length > MAX_VAULT_PLAINTEXT_BYTES) throw new TooLarge("vault record body too large");
  if (!KINDS.has(kind)) throw new MalformedState("unknown record kind");
  const ad = copyAd(accountId, recordId, version, custodian);
  const secret = ephemeralSecret ?? randomBytes(CUSTODIAN_KEY_BYTES);
  const ephemeral = x25519Public(secret);
  const key = hkdfSha256(x25519(secret, custodian), concat(ephemeral, custodian), COPY_KEY_INFO, 32);
  const n = nonce ?? randomBytes(AEAD_NONCE_SIZE);
  const ct = aeadEncrypt(key, n, concat(Uint8Array.of(kind), pad(body)), ad);
  return concat(Uint8Array.of(COPY_VERSION), ephemeral, n, ct);
}
