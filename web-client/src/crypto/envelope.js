// The message envelope (crypto/envelope.py). Version 1, big-endian:
//   version u8 | type u8 (1 prekey, 2 message) | sender_device 16 | recipient_device 16 |
//   [prekey only: identity_key 32 | ephemeral_key 32 | spk_id u32 | has_otpk u8 | otpk_id u32] |
//   ratchet header 40 | ciphertext (16 + k*160)
// The binding (everything before the header) is in the AEAD associated data: X3DH AD || binding || header.
import { concat, u32be, readU32be } from "../lib/bytes.js";
import { CryptoError, MalformedEnvelope, TooLarge, UnsupportedVersion } from "./errors.js";
import { ed25519PublicToX25519 } from "./primitives.js";
import { DEVICE_ID_BYTES, MAX_ENVELOPE_BYTES, PADDING_BLOCK_BYTES } from "./limits.js";
import { HEADER_SIZE, headerFromBytes, headerToBytes } from "./ratchet.js";

export const ENVELOPE_VERSION = 1;
export const INITIAL_MESSAGE_SIZE = 73;
export const TYPE_PREKEY = 1;
export const TYPE_MESSAGE = 2;
const ADDRESS_END = 2 + 2 * DEVICE_ID_BYTES;

export const wireName = (t) => (t === TYPE_PREKEY ? "prekey" : "message");

export function encodeInitialMessage(m) {
  const has = m.oneTimePrekeyId !== null && m.oneTimePrekeyId !== undefined;
  return concat(m.identityKey, m.ephemeralKey, u32be(m.signedPrekeyId), Uint8Array.of(has ? 1 : 0), u32be(has ? m.oneTimePrekeyId : 0));
}

export function decodeInitialMessage(raw) {
  if (raw.length !== INITIAL_MESSAGE_SIZE) throw new MalformedEnvelope("initial message has the wrong size");
  const spk = readU32be(raw, 64), has = raw[68], otpk = readU32be(raw, 69);
  if ((has !== 0 && has !== 1) || (has === 0 && otpk !== 0)) throw new MalformedEnvelope("invalid one-time prekey field");
  try {
    ed25519PublicToX25519(raw.slice(0, 32));
  } catch (e) {
    if (e instanceof CryptoError) throw new MalformedEnvelope("initial message holds an invalid key");
    throw e;
  }
  return { identityKey: raw.slice(0, 32), ephemeralKey: raw.slice(32, 64), signedPrekeyId: spk, oneTimePrekeyId: has ? otpk : null };
}

export function encodeBinding(type, sender, recipient, initialMessage) {
  if (sender.length !== DEVICE_ID_BYTES || recipient.length !== DEVICE_ID_BYTES)
    throw new MalformedEnvelope(`device ids must be ${DEVICE_ID_BYTES} bytes`);
  if ((type === TYPE_PREKEY) !== !!initialMessage)
    throw new MalformedEnvelope("prekey messages, and only they, carry an initial message");
  const head = concat(Uint8Array.of(ENVELOPE_VERSION, type), sender, recipient);
  return initialMessage ? concat(head, encodeInitialMessage(initialMessage)) : head;
}

export function encodeEnvelope(env) {
  const out = concat(
    encodeBinding(env.type, env.senderDevice, env.recipientDevice, env.initialMessage),
    headerToBytes(env.header),
    env.ciphertext,
  );
  if (out.length > MAX_ENVELOPE_BYTES) throw new TooLarge(`envelope exceeds ${MAX_ENVELOPE_BYTES} bytes`);
  return out;
}

export function parseEnvelope(raw) {
  if (!(raw instanceof Uint8Array)) throw new MalformedEnvelope("envelope must be bytes");
  if (raw.length > MAX_ENVELOPE_BYTES) throw new TooLarge(`envelope exceeds ${MAX_ENVELOPE_BYTES} bytes`);
  if (raw.length < 1) throw new MalformedEnvelope("envelope is empty");
  if (raw[0] !== ENVELOPE_VERSION) throw new UnsupportedVersion(`envelope version ${raw[0]} is not supported`);
  if (raw.length < ADDRESS_END) throw new MalformedEnvelope("envelope is truncated");
  const type = raw[1];
  if (type !== TYPE_PREKEY && type !== TYPE_MESSAGE) throw new MalformedEnvelope("unknown envelope type");
  let pos = ADDRESS_END;
  let initialMessage = null;
  if (type === TYPE_PREKEY) {
    initialMessage = decodeInitialMessage(raw.slice(pos, pos + INITIAL_MESSAGE_SIZE));
    pos += INITIAL_MESSAGE_SIZE;
  }
  const headerRaw = raw.slice(pos, pos + HEADER_SIZE);
  if (headerRaw.length !== HEADER_SIZE) throw new MalformedEnvelope("envelope is truncated");
  const header = headerFromBytes(headerRaw);
  const ciphertext = raw.slice(pos + HEADER_SIZE);
  const body = ciphertext.length - 16;
  if (body < PADDING_BLOCK_BYTES || body % PADDING_BLOCK_BYTES) throw new MalformedEnvelope("ciphertext length is not a padded length");
  return {
    version: raw[0],
    type,
    senderDevice: raw.slice(2, 18),
    recipientDevice: raw.slice(18, ADDRESS_END),
    initialMessage,
    header,
    ciphertext,
    binding: raw.slice(0, pos),
  };
}
