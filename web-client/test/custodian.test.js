// The records custodian (docs/PROTOCOL.md section 24) reproduces tests/vectors/custodian.json byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { ready } from "../src/crypto/primitives.js";
import { fromHex as H, toHex } from "../src/lib/bytes.js";
import * as c from "../src/crypto/custodian.js";

const here = dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.CONFIDANT_VECTORS || join(here, "..", "..", "tests", "vectors");
const data = JSON.parse(readFileSync(join(VECTORS, "custodian.json"), "utf8"));

await ready();

test("custodian key text, fingerprint and disclosure match", () => {
  const pub = H(data.public);
  assert.equal(c.encodePublicKey(pub), data.public_text);
  assert.equal(toHex(c.decodePublicKey(data.public_text)), data.public);
  assert.equal(c.custodianFingerprint(pub), data.fingerprint);
  assert.equal(c.disclosureText(pub), data.disclosure);
});

test("custodian copies seal byte for byte", () => {
  const pub = H(data.public);
  const account = H(data.account_id);
  assert.ok(data.copies.length >= 3);
  for (const k of data.copies) {
    assert.equal(toHex(c.copyAd(account, H(k.record_id), k.version, pub)), k.ad, k.name);
    const sealed = c.sealCopy(pub, account, H(k.record_id), k.version, k.kind, H(k.body_utf8),
      H(k.ephemeral_secret), H(k.nonce));
    assert.equal(toHex(sealed), k.sealed, k.name);
  }
});

test("the key terms disclose: one key, or none", () => {
  for (const t of data.terms) {
    const found = c.disclosedKey(t.text);
    assert.equal(found ? toHex(found) : null, t.key, t.name);
  }
});
