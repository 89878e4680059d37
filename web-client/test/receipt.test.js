// Receipt vectors (tests/vectors/receipt.json), shared with the Python SDK (client/payload.py Receipt).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { MAX_RECEIPT_IDS } from "../src/crypto/limits.js";
import { receiptIdsOf, receiptPayloads } from "../src/app/receipt.js";

const here = dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.CONFIDANT_VECTORS || join(here, "..", "..", "tests", "vectors");
const V = JSON.parse(readFileSync(join(VECTORS, "receipt.json"), "utf8"));

test("the receipt limit matches the SDK's", () => assert.equal(MAX_RECEIPT_IDS, V.max_receipt_ids));

test("receipts encode to the exact payload and decode to their ids", () => {
  for (const c of V.valid) {
    const payloads = receiptPayloads(V.to, c.ids, V.sent_at, () => V.id);
    assert.equal(payloads.length, 1, c.name);
    assert.equal(JSON.stringify(payloads[0]), c.payload, c.name);
    assert.deepEqual(receiptIdsOf(JSON.parse(c.payload)), c.ids, c.name);
  }
});

test("more ids than one receipt holds are split", () => {
  const ids = Array.from({ length: MAX_RECEIPT_IDS + 1 }, (_, i) => i.toString(16).padStart(32, "0"));
  const payloads = receiptPayloads(V.to, ids, V.sent_at, () => V.id);
  assert.deepEqual(payloads.map((p) => p.ids.length), [MAX_RECEIPT_IDS, 1]);
});

test("malformed receipts are dropped by the receiver", () => {
  for (const c of V.refused_payloads) assert.equal(receiptIdsOf(JSON.parse(c.payload)), null, c.name);
});
