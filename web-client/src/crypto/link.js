// Linking a new device (docs/PROTOCOL.md §17), the invitation fingerprint (§18) and the replay key (§19).
//   link code   = 0x02 || LK_N.public 32, as RFC 4648 base32 without padding (53 chars, shown in groups of 4)
//   link_id     = SHA-256("confidant-link-id-v2" || LK_N.public)[0:16]
//   T           = SHA-256("confidant-link-transcript-v2" || link_id || LK_N.pub || LK_E.pub || account_id ||
//                         device_id || identity_key)                     (the NEW device's id and key)
//   okm         = HKDF(X25519(LK_N, LK_E), salt = T, info = "confidant-link-v2", 64)
//   comparison  = u40(okm[0:5]) mod 10^6, 6 digits;  bundle key = okm[32:64]
//   account_bundle = 2 | account_id 16 | account_seed 32 | cert_created_at u64 | cert_signature 64 | count u8 |
//                    count x (type u8 | length u16 | value)        (types unique and increasing)
//   sealed_bundle  = 2 | nonce 24 | AEAD(bundle key, nonce, account_bundle, ad = T)
import * as p from "./primitives.js";
import { concat, equalBytes, readU16be, u16be, u64be, utf8 } from "../lib/bytes.js";
import { InvalidKey, MalformedEnvelope, MalformedState, UnsupportedVersion } from "./errors.js";
import { LINK_SAS_DIGITS, MAX_ACCOUNT_SECRETS, MAX_ACCOUNT_SECRET_BYTES } from "./limits.js";

export const LINK_VERSION = 2;
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LINK_ID = utf8("confidant-link-id-v2");
const TRANSCRIPT = utf8("confidant-link-transcript-v2");
const LINK_INFO = utf8("confidant-link-v2");
const INVITE_FP = utf8("confidant-invite-fp-v2");
const REPLAY = utf8("confidant-replay-v2");

export function base32Encode(bytes) {
  let out = "", bits = 0, value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text) {
  const out = [];
  let bits = 0, value = 0;
  for (const ch of text) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new MalformedEnvelope("link code has a character outside base32");
    value = ((value << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function checkPublic(pub) {
  if (!(pub instanceof Uint8Array) || pub.length !== 32) throw new InvalidKey("link key must be 32 bytes");
  if (pub.every((b) => b === 0)) throw new InvalidKey("link key is all zero");
  p.x25519(p.randomBytes(32), pub); // InvalidKey for a low-order point (the shared secret would be zero)
}

/** The text the new device shows (groups of 4) for its link key. */
export function linkCodeText(linkPublic) {
  checkPublic(linkPublic);
  return base32Encode(concat(Uint8Array.of(LINK_VERSION), linkPublic)).match(/.{1,4}/g).join(" ");
}

/** Parse a typed or scanned link code: spaces and '-' ignored, lower case accepted; returns LK_N.public. */
export function parseLinkCode(text) {
  const clean = String(text).replace(/[\s-]/g, "").toUpperCase();
  if (clean.length !== 53) throw new MalformedEnvelope("a link code has 53 characters");
  const raw = base32Decode(clean);
  if (raw.length !== 33) throw new MalformedEnvelope("a link code has 53 characters");
  if (raw[0] !== LINK_VERSION) throw new UnsupportedVersion("unknown link code version");
  const pub = raw.slice(1);
  checkPublic(pub);
  return pub;
}

export const linkId = (linkPublic) => p.sha256(concat(LINK_ID, linkPublic)).slice(0, 16);

export function transcript({ linkId: id, newLinkKey, offerKey, accountId, deviceId, identityKey }) {
  return p.sha256(concat(TRANSCRIPT, id, newLinkKey, offerKey, accountId, deviceId, identityKey));
}

/** {comparison: "123456", bundleKey} from our link secret, their link public key and the transcript T. */
export function linkSecrets(ownSecret, theirPublic, t) {
  const okm = p.hkdfSha256(p.x25519(ownSecret, theirPublic), t, LINK_INFO, 64);
  let v = 0;
  for (let i = 0; i < 5; i++) v = v * 256 + okm[i];
  const comparison = String(v % 10 ** LINK_SAS_DIGITS).padStart(LINK_SAS_DIGITS, "0");
  return { comparison, bundleKey: okm.slice(32, 64) };
}

export const showComparison = (c) => `${c.slice(0, 3)} ${c.slice(3)}`;

export function encodeAccountBundle({ accountId, accountSeed, certificate, secrets = [] }) {
  if (accountId.length !== 16 || accountSeed.length !== 32) throw new MalformedState("account bundle ids and seed have fixed sizes");
  if (secrets.length > MAX_ACCOUNT_SECRETS) throw new MalformedState("too many account secrets");
  const parts = [Uint8Array.of(LINK_VERSION), accountId, accountSeed, u64be(certificate.createdAt), certificate.signature, Uint8Array.of(secrets.length)];
  let last = -1;
  for (const { type, value } of secrets) {
    if (type <= last || type > 255) throw new MalformedState("account secret types must be unique and increasing");
    if (value.length > MAX_ACCOUNT_SECRET_BYTES) throw new MalformedState("account secret too large");
    last = type;
    parts.push(Uint8Array.of(type), u16be(value.length), value);
  }
  return concat(...parts);
}

export function decodeAccountBundle(b) {
  const FIXED = 1 + 16 + 32 + 8 + 64 + 1;
  if (b.length < FIXED) throw new MalformedState("account bundle too short");
  if (b[0] !== LINK_VERSION) throw new UnsupportedVersion("unknown account bundle version");
  const createdAt = Number(new DataView(b.buffer, b.byteOffset + 49, 8).getBigUint64(0, false));
  const count = b[FIXED - 1];
  if (count > MAX_ACCOUNT_SECRETS) throw new MalformedState("too many account secrets");
  const secrets = [];
  let off = FIXED, last = -1;
  for (let i = 0; i < count; i++) {
    if (off + 3 > b.length) throw new MalformedState("account secret truncated");
    const type = b[off], len = readU16be(b, off + 1);
    if (type <= last) throw new MalformedState("account secret types must be unique and increasing");
    if (len > MAX_ACCOUNT_SECRET_BYTES || off + 3 + len > b.length) throw new MalformedState("account secret truncated");
    secrets.push({ type, value: b.slice(off + 3, off + 3 + len) });
    last = type;
    off += 3 + len;
  }
  if (off !== b.length) throw new MalformedState("trailing bytes after the account bundle");
  return { accountId: b.slice(1, 17), accountSeed: b.slice(17, 49), certificate: { createdAt, signature: b.slice(57, 121) }, secrets };
}

export function sealAccountBundle(bundleKey, t, bundleBytes, nonce = p.randomBytes(24)) {
  return concat(Uint8Array.of(LINK_VERSION), nonce, p.aeadEncrypt(bundleKey, nonce, bundleBytes, t));
}

export function openAccountBundle(bundleKey, t, sealed) {
  if (sealed.length < 1 + 24 + 16) throw new MalformedState("sealed bundle too short");
  if (sealed[0] !== LINK_VERSION) throw new UnsupportedVersion("unknown sealed bundle version");
  return p.aeadDecrypt(bundleKey, sealed.slice(1, 25), sealed.slice(25), t);
}

/** §18: 16 bytes, carried base64url (no padding, 22 chars) in the invitation link's fragment. */
export const invitationFingerprint = (accountId, accountKey) => p.sha256(concat(INVITE_FP, accountId, accountKey)).slice(0, 16);

export function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new MalformedEnvelope("not base64url");
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

export const fingerprintMatches = (a, b) => a.length === b.length && equalBytes(a, b);

/** §19: what a device remembers of each initial message it accepted. */
export const replayKey = (identityKey, ephemeralKey) => p.sha256(concat(REPLAY, identityKey, ephemeralKey));
