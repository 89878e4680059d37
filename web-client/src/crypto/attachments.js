// Attachments (docs/PROTOCOL.md §11): one secretstream; 64 KiB chunks, the last (0..64 KiB) tagged FINAL.
//   blob = header 24 | chunks; pointer = key 32 | digest 32 (BLAKE2b-256 of the blob) | size u64
import * as p from "./primitives.js";
import { concat, u64be, readU64be, equalBytes } from "../lib/bytes.js";
import { DecryptionFailed, MalformedEnvelope, StreamTruncated, TooLarge } from "./errors.js";

export const CHUNK = 65536;
export const MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024;

export function encrypt(data, { key = null, header = null } = {}) {
  if (data.length > MAX_ATTACHMENT_BYTES) throw new TooLarge("attachment too large");
  key = key || p.randomBytes(32);
  const st = p.secretstreamPush(key, header);
  const parts = [st.header];
  const n = Math.max(1, Math.ceil(data.length / CHUNK));
  for (let i = 0; i < n; i++) parts.push(st.push(data.slice(i * CHUNK, (i + 1) * CHUNK), i === n - 1));
  const blob = concat(...parts);
  return { blob, pointer: concat(key, p.blake2b(blob, 32), u64be(data.length)) };
}

export function parsePointer(ptr) {
  if (ptr.length !== 72) throw new MalformedEnvelope("attachment pointer has the wrong size");
  return { key: ptr.slice(0, 32), digest: ptr.slice(32, 64), size: readU64be(ptr, 64) };
}

export const encryptedSize = (size) => 24 + size + 17 * Math.max(1, Math.ceil(size / CHUNK));

/** Mirrors crypto/attachments.py decrypt_stream: structure first (StreamTruncated), then digest and size. */
export function decrypt(blob, pointer) {
  const { key, digest, size } = parsePointer(pointer);
  if (size > MAX_ATTACHMENT_BYTES) throw new TooLarge("attachment too large");
  const expected = encryptedSize(size);
  if (blob.length < 24) throw new StreamTruncated("blob shorter than its header");
  const st = p.secretstreamPull(key, blob.slice(0, 24));
  const out = [];
  let off = 24;
  for (;;) {
    const piece = blob.slice(off, off + CHUNK + 17);
    if (!piece.length) throw new StreamTruncated("blob ends without a final chunk");
    off += piece.length;
    if (off > expected) throw new StreamTruncated("blob is longer than the pointer says");
    if (off < expected && off >= blob.length) throw new StreamTruncated("blob is shorter than the pointer says");
    if (piece.length < 17) throw new StreamTruncated("chunk shorter than its overhead");
    const [plain, final] = st.pull(piece);
    out.push(plain);
    if (final) break;
  }
  if (off < blob.length) throw new StreamTruncated("data after the final chunk");
  const data = concat(...out);
  if (data.length !== size || !equalBytes(p.blake2b(blob, 32), digest)) throw new DecryptionFailed("attachment does not match its pointer");
  return data;
}
