// Safety numbers (docs/PROTOCOL.md §10), in the style of Signal's NumericFingerprintGenerator, over the two
// ACCOUNT keys (version 2: one number per contact, stable when devices come and go):
//   h = SHA-512(0x0002 || Encode(AK) || account_id); 5200 x h = SHA-512(h || Encode(AK))
//   30 digits per party; both sorted and concatenated (60); QR payload = 0x02 || h_first[0:32] || h_second[0:32]
// (version 1 hashed device identity keys with version 0x0000 and QR byte 0x01; kept for its vectors only.)
import * as p from "./primitives.js";
import { concat, equalBytes } from "../lib/bytes.js";
import { encodeIdentity } from "./keys.js";

export const ITERATIONS = 5200;
export const FINGERPRINT_VERSION = 2;

export function fingerprintHash(identityKey, accountId, version = FINGERPRINT_VERSION) {
  const ik = encodeIdentity(identityKey);
  let h = p.sha512(concat(Uint8Array.of(0, version), ik, accountId));
  for (let i = 0; i < ITERATIONS; i++) h = p.sha512(concat(h, ik));
  return h;
}

export function digits(h) {
  let s = "";
  for (let i = 0; i < 6; i++) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 256 + h[5 * i + j];
    s += String(v % 100000).padStart(5, "0");
  }
  return s;
}

/** {number: 60 digits, groups: 12 x 5 digits, qr: 65-byte payload} for two (identity key, account id) pairs. */
export function safetyNumber(ownKey, ownAccount, peerKey, peerAccount, version = FINGERPRINT_VERSION) {
  const a = fingerprintHash(ownKey, ownAccount, version), b = fingerprintHash(peerKey, peerAccount, version);
  const da = digits(a), db = digits(b);
  const [first, second] = da <= db ? [[da, a], [db, b]] : [[db, b], [da, a]];
  const number = first[0] + second[0];
  return {
    number,
    groups: number.match(/.{5}/g),
    qr: concat(Uint8Array.of(version === 0 ? 1 : version), first[1].slice(0, 32), second[1].slice(0, 32)),
  };
}

export const qrMatches = (a, b) => a.length === b.length && equalBytes(a, b);
