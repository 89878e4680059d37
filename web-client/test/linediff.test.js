// The line diff a therapist sees before publishing new terms (and a client sees after): added and removed lines.
import { test } from "node:test";
import assert from "node:assert/strict";

import { hasChanges, lineDiff } from "../src/lib/linediff.js";

const changed = (a, b) => lineDiff(a, b).filter((d) => d.op !== "same");

test("an added paragraph is one added line, in place", () => {
  assert.deepEqual(changed("one\ntwo", "one\nnew\ntwo"), [{ op: "add", text: "new" }]);
});

test("a reworded line is removed then added; untouched lines are kept in order", () => {
  const d = lineDiff("keep\nold wording\nkeep too", "keep\nnew wording\nkeep too");
  assert.deepEqual(d, [
    { op: "same", text: "keep" },
    { op: "del", text: "old wording" },
    { op: "add", text: "new wording" },
    { op: "same", text: "keep too" },
  ]);
});

test("only blank lines changed is not a change worth showing", () => {
  assert.equal(hasChanges(lineDiff("a\nb", "a\n\nb")), false);
  assert.equal(hasChanges(lineDiff("a", "a")), false);
  assert.equal(hasChanges(lineDiff("a", "b")), true);
});
