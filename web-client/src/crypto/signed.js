// Every signed message of docs/PROTOCOL.md §16.1 (crypto/signed.py), and device certificates (§16.2).
// Each message starts with its own context string, so a signature made for one purpose is valid for no other.
//   auth_message          "confidant-auth-v1" || nonce 32 || device_id 16
//   consent_message       "confidant-consent-v1" || therapist_id 16 || client_id 16 || version u32 || terms_hash 32 || signed_at u64
//   signed_prekey_message "confidant-signed-prekey-v1" || id u32 || public 32          (crypto/keys.js)
//   certificate_message   "confidant-device-certificate-v2" || account_id 16 || device_id 16 || identity_key 32 || created_at u64
// certificate = created_at u64 || signature 64; in JSON {"created_at": ms, "signature": b64}.
import * as p from "./primitives.js";
import { concat, u32be, u64be, utf8, fromB64, toB64 } from "../lib/bytes.js";
import { BadCertificate, InvalidKey, MalformedEnvelope } from "./errors.js";
export { signedPrekeyMessage } from "./keys.js";

const AUTH = utf8("confidant-auth-v1");
const CONSENT = utf8("confidant-consent-v1");
const CERTIFICATE = utf8("confidant-device-certificate-v2");
const MAX_U64_SAFE = Number.MAX_SAFE_INTEGER;

function sized(b, n, what, Err = InvalidKey) {
  if (!(b instanceof Uint8Array) || b.length !== n) throw new Err(`${what} must be ${n} bytes`);
  return b;
}

function millis(v, what) {
  if (!Number.isInteger(v) || v < 0 || v > MAX_U64_SAFE) throw new MalformedEnvelope(`${what} must be a non-negative integer`);
  return v;
}

export function authMessage(nonce, deviceId) {
  return concat(AUTH, sized(nonce, 32, "nonce", MalformedEnvelope), sized(deviceId, 16, "device id", MalformedEnvelope));
}

export function consentMessage({ therapistId, clientId, version, termsHash, signedAt }) {
  return concat(
    CONSENT,
    sized(therapistId, 16, "therapist id", MalformedEnvelope),
    sized(clientId, 16, "client id", MalformedEnvelope),
    u32be(version),
    sized(termsHash, 32, "terms hash", MalformedEnvelope),
    u64be(millis(signedAt, "signed_at")),
  );
}

export function certificateMessage(accountId, deviceId, identityKey, createdAt) {
  return concat(
    CERTIFICATE,
    sized(accountId, 16, "account id", MalformedEnvelope),
    sized(deviceId, 16, "device id", MalformedEnvelope),
    sized(identityKey, 32, "identity key"),
    u64be(millis(createdAt, "created_at")),
  );
}

/** The account key (an IdentityKeyPair) certifies a device: {createdAt, signature}. */
export function issueCertificate(accountKey, accountId, deviceId, identityKey, createdAt) {
  return { createdAt, signature: accountKey.sign(certificateMessage(accountId, deviceId, identityKey, createdAt)) };
}

/** Raises BadCertificate unless `cert` binds exactly these ids and this identity key under `accountKey`. */
export function verifyCertificate(accountKey, accountId, deviceId, identityKey, cert) {
  if (!cert || !(cert.signature instanceof Uint8Array) || cert.signature.length !== 64) throw new BadCertificate("certificate is malformed");
  let msg;
  try {
    msg = certificateMessage(accountId, deviceId, identityKey, cert.createdAt);
  } catch {
    throw new BadCertificate("certificate is malformed");
  }
  try {
    p.ed25519Verify(accountKey, msg, cert.signature);
  } catch {
    throw new BadCertificate("certificate does not verify under the account key");
  }
}

export const certificateToBytes = (c) => concat(u64be(c.createdAt), c.signature);

export function certificateFromBytes(b) {
  sized(b, 72, "certificate", MalformedEnvelope);
  const createdAt = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, false));
  return { createdAt, signature: b.slice(8) };
}

export const certificateToJson = (c) => ({ created_at: c.createdAt, signature: toB64(c.signature) });

export function certificateFromJson(j) {
  if (!j || typeof j.signature !== "string") return null;
  try {
    return { createdAt: j.created_at, signature: fromB64(j.signature) };
  } catch {
    return null;
  }
}
