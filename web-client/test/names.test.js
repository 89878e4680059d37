// Name vectors (tests/vectors/names.json), shared with the Python SDK (client/names.py, client/payload.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { MAX_NAME_CHARS } from "../src/crypto/limits.js";
import { InvalidName, boundBody, checkName, contactBody, displayNameOf, invitationBody, ownProfileBody, profilePayload, receivedBody } from "../src/app/profile.js";

const here = dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.CONFIDANT_VECTORS || join(here, "..", "..", "tests", "vectors");
const V = JSON.parse(readFileSync(join(VECTORS, "names.json"), "utf8"));

test("the name limit matches the SDK's", () => assert.equal(MAX_NAME_CHARS, V.max_name_chars));

test("display names encode to the exact profile payload", () => {
  for (const c of V.valid) {
    assert.equal(checkName(c.display_name), c.display_name, c.name);
    assert.equal(JSON.stringify(profilePayload(V.to, c.display_name, V.sent_at, V.id)), c.payload, c.name);
    assert.equal(displayNameOf(JSON.parse(c.payload)), c.display_name, c.name);
  }
});

test("invalid names are refused", () => {
  for (const c of V.invalid) {
    assert.throws(() => checkName(c.display_name), (e) => e instanceof InvalidName && e.name === c.error, c.name);
    assert.throws(() => profilePayload(V.to, c.display_name, 1, V.id), InvalidName, c.name);
  }
});

test("bad profile payloads are dropped by the receiver", () => {
  for (const c of V.refused_payloads) assert.equal(displayNameOf(JSON.parse(c.payload)), null, c.name);
});

test("name records have the SDK's exact bodies", () => {
  const [own, invitation, bound, received, profile] = V.records;
  const b = (r) => r.body;
  assert.equal(JSON.stringify(contactBody(b(own).account_id, b(own).name)), own.body_utf8);
  assert.equal(JSON.stringify(invitationBody(b(invitation).invitation_id, b(invitation).name)), invitation.body_utf8);
  assert.equal(JSON.stringify(boundBody(b(bound).account_id, b(bound).invitation_id, b(bound).name)), bound.body_utf8);
  assert.equal(JSON.stringify(receivedBody(b(received).account_id, b(received).display_name)), received.body_utf8);
  assert.equal(JSON.stringify(ownProfileBody(b(profile).display_name)), profile.body_utf8);
});
