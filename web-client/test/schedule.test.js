// Schedule notice vectors (tests/vectors/schedule_notice.json), shared with the Python SDK (client/schedule.py):
// the browser writes the same words when a session is scheduled, moved or cancelled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { cancelledText, movedText, scheduledText } from "../src/app/schedule.js";

const here = dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.CONFIDANT_VECTORS || join(here, "..", "..", "tests", "vectors");
const V = JSON.parse(readFileSync(join(VECTORS, "schedule_notice.json"), "utf8"));

test("schedule notices: the exact words of every vector", () => {
  assert.ok(V.cases.length >= 6);
  for (const c of V.cases) {
    const text =
      c.event === "scheduled" ? scheduledText(c.session, c.weeks, c.offset_minutes)
      : c.event === "moved" ? movedText(c.session, c.moved_to, c.offset_minutes)
      : cancelledText(c.session, c.offset_minutes);
    assert.equal(text, c.text, c.name);
  }
});
