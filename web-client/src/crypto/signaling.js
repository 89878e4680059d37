// Boxed signaling v2 (docs/PROTOCOL.md §8), byte for byte as crypto/boxed.py: sealed per join with fresh ephemeral keys.
//   join_message   = "confidant-call-join-v2" | session 16 | device 16 | join_id 16 | ephemeral 32
//   join_statement = join_id 16 | ephemeral 32 | Ed25519 signature 64 (by the device's identity key)
//   plaintext      = 2 | session 16 | from_device 16 | to_device 16 | from_join 16 | to_join 16 | seq u64 | payload
//   boxed          = 2 | nonce 24 | crypto_box_easy(plaintext, nonce, to_ephemeral_public, from_ephemeral_secret)
import * as p from "./primitives.js";
import { concat, u64be, readU64be, equalBytes, utf8 } from "../lib/bytes.js";
import { DecryptionFailed, MalformedEnvelope, ReplayedSignal, TooLarge, UnsupportedVersion, WrongContext } from "./errors.js";
import { X25519KeyPair } from "./keys.js";

export const MAX_SIGNAL_PLAINTEXT_BYTES = 32768;
export const BOXED_VERSION = 2;
const JOIN_CONTEXT = utf8("confidant-call-join-v2");
const CONTEXT_SIZE = 1 + 5 * 16 + 8;

const ids = (...xs) => {
  for (const x of xs) if (!(x instanceof Uint8Array) || x.length !== 16) throw new MalformedEnvelope("session, device and join ids are 16 bytes");
};

export function joinMessage(sessionId, deviceId, joinId, ephemeral) {
  ids(sessionId, deviceId, joinId);
  if (ephemeral.length !== 32) throw new MalformedEnvelope("the join's ephemeral key is 32 bytes");
  return concat(JOIN_CONTEXT, sessionId, deviceId, joinId, ephemeral);
}

/** This device's join: {keys (X25519KeyPair, memory only), joinId, statement (112 bytes)}. */
export function createJoin(identity, sessionId, deviceId, { ephemeral = null, joinId = null } = {}) {
  const keys = ephemeral || X25519KeyPair.generate();
  const jid = joinId || p.randomBytes(16);
  const signature = identity.sign(joinMessage(sessionId, deviceId, jid, keys.public));
  return { keys, joinId: jid, statement: concat(jid, keys.public, signature) };
}

/** A peer's statement, checked under the identity key this device pinned: {joinId, ephemeral} or BadSignature. */
export function verifyJoin(identityKey, sessionId, deviceId, statement) {
  if (!(statement instanceof Uint8Array) || statement.length !== 112) throw new MalformedEnvelope("a join statement is 112 bytes");
  const joinId = statement.slice(0, 16), ephemeral = statement.slice(16, 48);
  p.ed25519Verify(identityKey, joinMessage(sessionId, deviceId, joinId, ephemeral), statement.slice(48));
  return { joinId, ephemeral };
}

const header = (c) => concat(Uint8Array.of(BOXED_VERSION), c.sessionId, c.fromDevice, c.toDevice, c.fromJoin, c.toJoin);

/** ctx: {sessionId, fromDevice, toDevice, fromJoin, toJoin}; join: ours; peer: {ephemeral} (verified). */
export function seal(join, peer, ctx, { seq, payload, nonce = null }) {
  ids(ctx.sessionId, ctx.fromDevice, ctx.toDevice, ctx.fromJoin, ctx.toJoin);
  if (payload.length > MAX_SIGNAL_PLAINTEXT_BYTES) throw new TooLarge(`signal payload exceeds ${MAX_SIGNAL_PLAINTEXT_BYTES} bytes`);
  nonce = nonce || p.randomBytes(24);
  const plain = concat(header(ctx), u64be(seq), payload);
  return concat(Uint8Array.of(BOXED_VERSION), nonce, p.boxSeal(join.keys.secret, peer.ephemeral, nonce, plain));
}

/** Returns {seq, payload}; checks version, box, context and replay (seq must exceed lastSeq). */
export function open(join, peer, boxed, ctx, lastSeq = 0) {
  if (boxed.length < 1 || boxed[0] !== BOXED_VERSION) throw new UnsupportedVersion("boxed signal version is not supported");
  if (boxed.length < 1 + 24 + 16 + CONTEXT_SIZE) throw new MalformedEnvelope("boxed signal is truncated");
  if (boxed.length > 1 + 24 + 16 + CONTEXT_SIZE + MAX_SIGNAL_PLAINTEXT_BYTES) throw new TooLarge("boxed signal is too large");
  let plain;
  try {
    plain = p.boxOpen(join.keys.secret, peer.ephemeral, boxed.slice(1, 25), boxed.slice(25));
  } catch (e) {
    throw e instanceof DecryptionFailed ? e : new DecryptionFailed("signal does not open");
  }
  if (plain[0] !== BOXED_VERSION) throw new UnsupportedVersion("signal version is not supported");
  if (!equalBytes(plain.slice(0, CONTEXT_SIZE - 8), header(ctx))) throw new WrongContext("signal belongs to another session, sender, recipient or join");
  const seq = readU64be(plain, CONTEXT_SIZE - 8);
  if (seq <= lastSeq) throw new ReplayedSignal("signal sequence number is not above the last one accepted");
  return { seq, payload: plain.slice(CONTEXT_SIZE) };
}
