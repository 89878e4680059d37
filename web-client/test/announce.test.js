// lib/dom.js burstAnnouncer: arriving messages are announced one burst at a time (a backlog arrives in pages
// a tenth of a second apart; read out page by page, each announcement would cut off the one before).
import { test, mock } from "node:test";
import assert from "node:assert/strict";

import { burstAnnouncer } from "../src/lib/dom.js";

test("a burst is said twice at most: its first message at once, then how many followed, once it is quiet", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const said = [];
    const say = burstAnnouncer(1500, (text) => said.push(text));
    say("alex", 3, () => "New message from Alex: one", (n) => `${n} more from Alex`);
    assert.deepEqual(said, ["New message from Alex: one"]);
    for (let page = 0; page < 9; page++) {
      mock.timers.tick(100); // the next page, well within the quiet time
      say("alex", 200, () => "never said", (n) => `${n} more from Alex`);
    }
    assert.deepEqual(said, ["New message from Alex: one"], "nothing while the pages keep coming");
    mock.timers.tick(1500);
    assert.deepEqual(said, ["New message from Alex: one", "1802 more from Alex"]);
    // Quiet again: the next message opens a new burst.
    say("alex", 1, () => "New message from Alex: later", (n) => `${n} more from Alex`);
    mock.timers.tick(1500);
    assert.deepEqual(said.slice(2), ["New message from Alex: later"], "a burst of one has no summary");
  } finally {
    mock.timers.reset();
  }
});

test("conversations have bursts of their own, and an empty summary is not said", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const said = [];
    const say = burstAnnouncer(1500, (text) => said.push(text));
    say("alex", 1, () => "New message from Alex", () => "");
    say("sam", 1, () => "New message from Sam", (n) => `${n} more from Sam`);
    say("alex", 1, () => "never said", () => ""); // e.g. read meanwhile: nothing left unread
    say("sam", 2, () => "never said", (n) => `${n} more from Sam`);
    mock.timers.tick(1500);
    assert.deepEqual(said, ["New message from Alex", "New message from Sam", "2 more from Sam"]);
  } finally {
    mock.timers.reset();
  }
});
