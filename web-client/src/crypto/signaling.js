// Boxed signaling (docs/PROTOCOL.md §8): WebRTC offers/answers/candidates sealed between two devices' identity keys.
//   plaintext = 1 | call_id 16 | from_device 16 | to_device 16 | seq u64 | payload
//   boxed     = 1 | nonce 24 | crypto_box_easy(plaintext, nonce, to_identity.x25519_public, from_identity.x25519_secret)
import * as p from "./primitives.js";
import { concat, u64be, readU64be, equalBytes } from "../lib/bytes.js";
import { DecryptionFailed, ReplayedSignal, TooLarge, UnsupportedVersion, WrongContext } from "./errors.js";
import { identityToX25519 } from "./keys.js";

export const MAX_SIGNAL_PLAINTEXT_BYTES = 32768;

export function seal(fromIdentity, toIdentityKey, { callId, fromDevice, toDevice, seq, payload, nonce = null }) {
  if (payload.length > MAX_SIGNAL_PLAINTEXT_BYTES) throw new TooLarge(`signal payload exceeds ${MAX_SIGNAL_PLAINTEXT_BYTES} bytes`);
  nonce = nonce || p.randomBytes(24);
  const plain = concat(Uint8Array.of(1), callId, fromDevice, toDevice, u64be(seq), payload);
  return concat(Uint8Array.of(1), nonce, p.boxSeal(fromIdentity.x.secret, identityToX25519(toIdentityKey), nonce, plain));
}

/** Returns {seq, payload}; checks version, box, context and replay (seq must exceed lastSeq). */
export function open(ownIdentity, fromIdentityKey, boxed, { callId, fromDevice, toDevice, lastSeq = 0 }) {
  if (boxed.length < 1 || boxed[0] !== 1) throw new UnsupportedVersion("boxed signal version is not supported");
  if (boxed.length < 1 + 24 + 16) throw new DecryptionFailed("boxed signal is truncated");
  const plain = p.boxOpen(ownIdentity.x.secret, identityToX25519(fromIdentityKey), boxed.slice(1, 25), boxed.slice(25));
  if (plain.length < 1 + 48 + 8 || plain[0] !== 1) throw new UnsupportedVersion("signal version is not supported");
  if (!equalBytes(plain.slice(1, 17), callId) || !equalBytes(plain.slice(17, 33), fromDevice) || !equalBytes(plain.slice(33, 49), toDevice))
    throw new WrongContext("signal was sealed for another call, sender or recipient");
  const seq = readU64be(plain, 49);
  if (seq <= lastSeq) throw new ReplayedSignal("signal sequence number is not above the last one accepted");
  const payload = plain.slice(57);
  if (payload.length > MAX_SIGNAL_PLAINTEXT_BYTES) throw new TooLarge("signal payload too large");
  return { seq, payload };
}
