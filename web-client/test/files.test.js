// File message vectors (tests/vectors/file_message.json), shared with the Python SDK (client/file_pointer.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { ready, sha256 } from "../src/crypto/primitives.js";
import * as attachments from "../src/crypto/attachments.js";
import { fromHex, toHex } from "../src/lib/bytes.js";
import { MalformedFile, filePayload, pointerFromWire, pointerToWire, safeFileName } from "../src/app/file_pointer.js";

const here = dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.CONFIDANT_VECTORS || join(here, "..", "..", "tests", "vectors");
const V = JSON.parse(readFileSync(join(VECTORS, "file_message.json"), "utf8"));

await ready();

test("valid file pointers encode to the exact payload", () => {
  for (const c of V.valid) {
    const p = pointerFromWire(c.file);
    assert.deepEqual(pointerToWire(p), c.file, c.name);
    assert.equal(JSON.stringify(filePayload(V.to, p, V.sent_at, V.id)), c.payload, c.name);
  }
});

test("invalid file pointers are refused", () => {
  for (const c of V.invalid) assert.throws(() => pointerFromWire(c.file), MalformedFile, c.name);
});

test("file round trip: same blob, and a flipped bit is refused", () => {
  const rt = V.roundtrip;
  const data = new Uint8Array(rt.size).map((_, i) => i % 251);
  const { blob, pointer } = attachments.encrypt(data, { key: fromHex(rt.key), header: fromHex(rt.header) });
  assert.equal(blob.length, rt.blob_length);
  assert.equal(toHex(sha256(blob)), rt.blob_sha256);
  const p = pointerFromWire(rt.file);
  assert.equal(toHex(pointer.slice(32, 64)), toHex(p.digest));
  assert.equal(JSON.stringify(filePayload(V.to, p, V.sent_at, V.id)), rt.payload);
  assert.deepEqual(attachments.decrypt(blob, pointer), data);
  const bad = blob.slice();
  bad[rt.tampered_byte] ^= 1;
  assert.throws(() => attachments.decrypt(bad, pointer), (e) => e.name === "DecryptionFailed");
});

test("safe file names", () => {
  assert.equal(safeFileName("../../etc/passwd"), "passwd");
  assert.equal(safeFileName("C:\\Users\\x\\a.pdf"), "a.pdf");
  assert.equal(safeFileName(""), "file");
});
