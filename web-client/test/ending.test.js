// The erase confirmation (tests/vectors/erase_account.json), shared with the SDK and the server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { ready } from "../src/crypto/primitives.js";
import { IdentityKeyPair } from "../src/crypto/keys.js";
import { fromHex, toHex } from "../src/lib/bytes.js";
import { eraseMessage } from "../src/app/ending.js";

const here = dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.CONFIDANT_VECTORS || join(here, "..", "..", "tests", "vectors");
const V = JSON.parse(readFileSync(join(VECTORS, "erase_account.json"), "utf8"));

await ready();

test("the erase confirmation is the vector's bytes, signed the same way", () => {
  const message = eraseMessage(V.nonce_b64, V.account_id, V.device_id);
  assert.equal(toHex(message), V.message);
  const identity = new IdentityKeyPair(fromHex(V.identity_seed));
  assert.equal(toHex(identity.public), V.identity_public);
  assert.equal(toHex(identity.sign(message)), V.signature);
});
