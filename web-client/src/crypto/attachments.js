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

export function decrypt(blob, pointer) {
  const { key, digest, size } = parsePointer(pointer);
  if (blob.length < 24) throw new StreamTruncated("stream shorter than its header");
  if (!equalBytes(p.blake2b(blob, 32), digest)) throw new DecryptionFailed("attachment digest mismatch");
  const st = p.secretstreamPull(key, blob.slice(0, 24));
  const out = [];
  let off = 24;
  let done = false;
  while (off < blob.length) {
    if (done) throw new StreamTruncated("data after the final chunk");
    const len = Math.min(CHUNK + 17, blob.length - off);
    if (len < 17) throw new StreamTruncated("chunk shorter than its overhead");
    const [plain, final] = st.pull(blob.slice(off, off + len));
    out.push(plain);
    off += len;
    done = final;
  }
  if (!done) throw new StreamTruncated("stream has no final chunk");
  const data = concat(...out);
  if (data.length !== size) throw new DecryptionFailed("attachment size mismatch");
  return data;
}
