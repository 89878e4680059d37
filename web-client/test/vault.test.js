// The account vault (docs/PROTOCOL.md section 22) reproduces tests/vectors/vault.json byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { ready } from "../src/crypto/primitives.js";
import * as errors from "../src/crypto/errors.js";
import { fromHex as H, toHex } from "../src/lib/bytes.js";
import * as v from "../src/crypto/accountvault.js";

const here = dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.CONFIDANT_VECTORS || join(here, "..", "..", "tests", "vectors");
const data = JSON.parse(readFileSync(join(VECTORS, "vault.json"), "utf8"));

await ready();

const throwsKind = (fn, name) => assert.throws(fn, (e) => e instanceof errors[name], name);

test("vault records seal and open byte for byte", () => {
  const key = H(data.vault_key);
  const account = H(data.account_id);
  assert.ok(data.records.length >= 4);
  for (const c of data.records) {
    assert.equal(toHex(v.recordAd(account, H(c.record_id), c.version)), c.ad, c.name);
    const sealed = v.sealRecord(key, account, H(c.record_id), c.version, c.kind, H(c.body_utf8), H(c.nonce));
    assert.equal(toHex(sealed), c.sealed, c.name);
    const opened = v.openRecord(key, account, H(c.record_id), c.version, H(c.sealed));
    assert.equal(opened.kind, c.kind);
    assert.equal(toHex(opened.body), c.body_utf8);
  }
});

test("a record moved, rolled back, altered or from another account is refused", () => {
  const key = H(data.vault_key);
  assert.ok(data.record_rejections.length >= 5);
  for (const r of data.record_rejections) {
    const account = H(r.account_id ?? data.account_id);
    throwsKind(() => v.openRecord(key, account, H(r.record_id), r.version, H(r.sealed)), r.error);
  }
});

test("recovery key text, derived keys and the sealed backup", () => {
  const r = data.recovery;
  const key = H(r.key);
  assert.equal(v.recoveryKeyText(key), r.text);
  for (const typed of [r.text, ...r.typed_forms]) assert.equal(toHex(v.parseRecoveryKey(typed)), r.key);
  for (const bad of r.bad_texts) throwsKind(() => v.parseRecoveryKey(bad.text), bad.error);
  const d = v.deriveRecovery(key);
  assert.equal(toHex(d.lookupId), r.lookup_id);
  assert.equal(toHex(d.authenticator), r.authenticator);
  assert.equal(toHex(d.verifier), r.verifier);
  assert.equal(toHex(d.wrapKey), r.wrap_key);
  const secrets = new Map(Object.entries(r.secrets).map(([t, hex]) => [Number(t), H(hex)]));
  const account = H(data.account_id);
  assert.equal(toHex(v.encodeSecrets(account, secrets)), r.secrets_encoded);
  assert.equal(toHex(v.sealBackup(key, account, secrets, H(r.nonce))), r.sealed_backup);
  const opened = v.openBackup(key, account, H(r.sealed_backup));
  assert.deepEqual([...opened.entries()].map(([t, b]) => [t, toHex(b)]), Object.entries(r.secrets).map(([t, h]) => [Number(t), h]));
  throwsKind(() => v.openBackup(H(r.wrong_key.key), account, H(r.sealed_backup)), r.wrong_key.error);
});

test("history items merge and split into chunks as in Python (section 22.6)", async () => {
  const { mergeItems, splitChunks } = await import("../src/app/history.js");
  const m = data.history.merge;
  assert.deepEqual(mergeItems(m.existing, m.new), m.merged);
  for (const c of data.history.split) {
    const items = c.sizes.map((n, i) => ({ id: i.toString(16).padStart(32, "0"), from: "ab".repeat(16), at: 1000 + i, text: "x".repeat(n) }));
    assert.deepEqual(splitChunks(items).map((chunk) => chunk.length), c.chunk_lengths, c.name);
  }
});
