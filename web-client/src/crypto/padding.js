// ISO/IEC 7816-4 padding to a multiple of 160 bytes (crypto/padding.py).
import { PADDING_BLOCK_BYTES } from "./limits.js";
import { DecryptionFailed } from "./errors.js";

export const paddedLength = (n) => (Math.floor(n / PADDING_BLOCK_BYTES) + 1) * PADDING_BLOCK_BYTES;

export function pad(m) {
  const out = new Uint8Array(paddedLength(m.length));
  out.set(m);
  out[m.length] = 0x80;
  return out;
}

export function unpad(padded) {
  if (!padded.length || padded.length % PADDING_BLOCK_BYTES) throw new DecryptionFailed("invalid padding");
  let end = padded.length;
  while (end > 0 && padded[end - 1] === 0) end--;
  if (end === 0 || padded[end - 1] !== 0x80) throw new DecryptionFailed("invalid padding");
  return padded.slice(0, end - 1);
}
