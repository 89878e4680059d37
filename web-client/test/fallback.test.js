// The audio-only fallback (src/app/fallback.js): the sealed message vectors shared with the SDK
// (tests/vectors/call_control.json, client/fallback.py) and the rules that decide when a pair goes audio only
// and when it tries video again, driven sample by sample as the call's getStats loop drives them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { AudioOnlyFallback, LOW_SAMPLES, RETRY_MS, STALL_MS, audioOnlyMessage, remoteReason } from "../src/app/fallback.js";

const here = dirname(fileURLToPath(import.meta.url));
const VECTORS = process.env.CONFIDANT_VECTORS || join(here, "..", "..", "tests", "vectors");
const V = JSON.parse(readFileSync(join(VECTORS, "call_control.json"), "utf8"));

test("audio_only messages: the exact bytes sent, and the wish read from each received one", () => {
  for (const c of V.audio_only.sent) assert.equal(JSON.stringify(audioOnlyMessage(c.reason)), c.wire, String(c.reason));
  for (const c of V.audio_only.received) assert.equal(remoteReason(JSON.parse(c.wire)), c.remote_reason, c.name);
});

/** The controller's side the fallback uses: its peers, what it seals to them, its re-render. */
function callWith() {
  const sent = [];
  const peer = { handle: "p1", pc: null, connectedSince: 1, media: { audio: true, video: true } };
  const call = { peers: new Map([["p1", peer]]), room: { members: [{ peer: "p1" }] }, nameOf: () => "Sam", _send: (p, m) => sent.push(m), _emit: () => {} };
  const fb = new AudioOnlyFallback(call);
  fb.attach(peer);
  return { fb, peer, sent };
}

test("a low send estimate for LOW_SAMPLES samples falls back, tells the peer, and retries later", () => {
  const { fb, peer, sent } = callWith();
  let now = 1000, audio = 0, frames = 0;
  const sample = (outBps) => fb.observe(peer, { frames: (frames += 30), audioBytes: (audio += 4000), outBps }, (now += 1000));
  sample(2_000_000);
  for (let i = 0; i < LOW_SAMPLES - 1; i++) sample(50_000);
  assert.equal(peer.fb.local, null); // not yet: one sample short
  sample(50_000);
  assert.equal(peer.fb.local, "low_bandwidth");
  assert.equal(peer.audioOnly, true);
  assert.equal(peer.audioOnlyText, "the connection is too slow for video");
  assert.deepEqual(sent.at(-1), { kind: "audio_only", on: true, reason: "low_bandwidth" });
  now += RETRY_MS;
  sample(2_000_000); // the retry: video again, and the next fallback waits twice as long
  assert.equal(peer.fb.local, null);
  assert.deepEqual(sent.at(-1), { kind: "audio_only", on: false, reason: null });
  assert.equal(peer.fb.backoff, 2 * RETRY_MS);
});

test("no new video frame for STALL_MS while audio flows falls back; a camera turned off does not", () => {
  const { fb, peer } = callWith();
  let now = 0, audio = 0;
  for (let t = 0; t <= STALL_MS; t += 1000) fb.observe(peer, { frames: 50, audioBytes: (audio += 4000), outBps: null }, (now = t));
  assert.equal(peer.fb.local, "no_video");

  const other = callWith();
  other.peer.media.video = false; // the peer said its camera is off: no video is meant to arrive
  for (let t = 0; t <= 2 * STALL_MS; t += 1000) other.fb.observe(other.peer, { frames: 50, audioBytes: (audio += 4000), outBps: null }, t);
  assert.equal(other.peer.fb.local, null);
});

test("the person's choice holds until released, and the peer's wish alone keeps the pair audio only", () => {
  const { fb, peer, sent } = callWith();
  fb.choose(true);
  assert.equal(fb.active, true);
  fb.observe(peer, { frames: 0, audioBytes: 1, outBps: null }, 10 * RETRY_MS); // no automatic retry of a choice
  assert.equal(peer.fb.local, "chosen");
  fb.choose(false);
  assert.deepEqual(sent.at(-1), { kind: "audio_only", on: false, reason: null });
  fb.onMessage(peer, { kind: "audio_only", on: true, reason: "chosen" });
  assert.equal(peer.audioOnly, true);
  assert.equal(peer.audioOnlyText, "Sam chose audio only");
  assert.equal(fb.active, false); // this side wishes nothing: its button is not pressed
});
