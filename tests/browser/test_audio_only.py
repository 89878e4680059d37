"""Audio-only fallback between two Chromium browsers (web-client/src/app/fallback.js): when the therapist's
video reaches the client but cannot be decoded there, both stop sending video (no more video bytes on the
wire), the audio goes on, and both tiles say why; the person can try video again, and can choose audio only.
Axe audits the call screen of both while audio only."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.browser._ui import accept_dialogs, practice, shot, violations
from tests.browser.test_video import client_joins, schedule, sees_videos
from tests.fixtures.server_proc import ConfidantServer

pytestmark = [pytest.mark.browser, pytest.mark.webrtc]

# Test instrumentation, not a stand-in: the app's own RTCPeerConnections are recorded so the test can read
# their getStats and disturb their video receivers the way a broken network path or decoder would.
_RECORD = """(breaker) => {
  const Real = window.RTCPeerConnection;
  window.__pcs = [];
  if (breaker) window.__break = new Worker("/__test-break-video.js");
  window.RTCPeerConnection = class extends Real {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
    addTrack(track, ...streams) {
      const sender = super.addTrack(track, ...streams);
      // Chromium applies an encoded transform only if set before the first frame: at once, passing every
      // frame through unchanged until the test says otherwise.
      if (breaker && track.kind === "video") sender.transform = new RTCRtpScriptTransform(window.__break, {});
      return sender;
    }
  };
}"""

# A same-origin worker (the page's CSP allows only 'self' scripts): an encoded-frame transform on the video
# sender that, while told to, replaces each encoded frame's bytes with noise of the same size: the packets
# still go out and arrive, but no frame can be decoded (a broken path or codec, as the receiver sees it).
_BREAK_WORKER = """
let broken = false;
onmessage = (e) => { broken = e.data; postMessage(broken ? "breaking" : "passing"); };
onrtctransform = (e) => {
  const { readable, writable } = e.transformer;
  readable.pipeThrough(new TransformStream({ transform(frame, out) {
    if (broken) frame.data = crypto.getRandomValues(new Uint8Array(frame.data.byteLength)).buffer;
    out.enqueue(frame);
  } })).pipeTo(writable);
};
"""

_BREAK = """(on) => new Promise((resolve, reject) => {
  window.__break.onmessage = (e) => e.data === (on ? "breaking" : "passing") && resolve();
  window.__break.onerror = (e) => reject(new Error(`break worker: ${e.message}`));
  window.__break.postMessage(on);
})"""

_SENT = """async () => {
  const out = { audio: 0, video: 0 };
  for (const pc of window.__pcs.filter((p) => p.connectionState === "connected"))
    (await pc.getStats()).forEach((s) => { if (s.type === "outbound-rtp") out[s.kind] += s.bytesSent || 0; });
  return out;
}"""


async def _sent(page: Page) -> dict[str, int]:
    result: dict[str, int] = await page.evaluate(_SENT)
    return result


async def _after_audio(
    page: Page, before: dict[str, int], audio_bytes: int, timeout: float = 15.0
) -> dict[str, Any]:
    """Bytes sent once ``audio_bytes`` more audio went out (the audio keeps flowing: time passes on it)."""
    deadline = time.monotonic() + timeout
    while True:
        now = await _sent(page)
        if now["audio"] - before["audio"] >= audio_bytes:
            return now
        assert time.monotonic() < deadline, f"audio stopped: {before} -> {now}"
        await asyncio.sleep(0.2)


async def test_video_that_cannot_flow_falls_back_to_audio_and_comes_back(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    accept_dialogs(t)
    accept_dialogs(c)

    async def worker(route: Route) -> None:
        await route.fulfill(body=_BREAK_WORKER, content_type="text/javascript")

    await t.context.route("**/__test-break-video.js", worker)
    await t.evaluate(_RECORD, True)
    await c.evaluate(_RECORD, False)

    await schedule(t, [p.client_name])
    await client_joins(c)
    await t.get_by_role("link", name="Open waiting room").click()
    await t.get_by_role("button", name=f"Admit {p.client_name}").click()
    await sees_videos(t, 1)
    await sees_videos(c, 1)
    start = await _sent(t)
    flowing = await _after_audio(t, start, 4000)
    assert flowing["video"] - start["video"] > 10_000  # the therapist's camera is on the wire

    # The therapist's video can no longer be decoded at the client (its bytes still flow).
    await t.evaluate(_BREAK, True)
    on_client = c.get_by_role("listitem").filter(has_text="Your therapist")
    on_therapist = t.get_by_role("listitem").filter(has_text=p.client_name)
    await expect(on_client.locator(".badge", has_text="Audio only")).to_be_visible(timeout=20_000)
    await expect(on_client).to_contain_text("Audio only: video is not getting through")
    await expect(on_therapist).to_contain_text("Audio only: video is not getting through")
    await expect(c.get_by_role("button", name="Audio only")).to_have_attribute("aria-pressed", "true")
    # Both stopped sending video; the audio keeps going.
    for page in (t, c):
        stopped = await _after_audio(page, await _sent(page), 2000)  # packets in flight land first
        later = await _after_audio(page, stopped, 6000)
        assert later["video"] - stopped["video"] <= 1500, (stopped, later)  # at most a packet in flight
    await shot(c, artifacts, "client-audio-only")
    assert await violations(c) == []
    assert await violations(t) == []

    # The path recovers; the client tries video again at once (the call would by itself after 30 s).
    await t.evaluate(_BREAK, False)
    await c.get_by_role("button", name="Audio only").click()
    await expect(c.get_by_role("button", name="Audio only")).to_have_attribute("aria-pressed", "false")
    await expect(on_therapist).not_to_contain_text("Audio only")
    await expect(on_client).not_to_contain_text("Audio only")
    again = await _sent(t)
    resumed = await _after_audio(t, again, 6000)
    assert resumed["video"] - again["video"] > 10_000, (again, resumed)

    # The therapist chooses audio only: the client is told, and the video stops again.
    await t.get_by_role("button", name="Audio only").click()
    await expect(t.get_by_role("button", name="Audio only")).to_have_attribute("aria-pressed", "true")
    await expect(on_client).to_contain_text("Audio only: Your therapist chose audio only")
    await expect(on_therapist).to_contain_text("Audio only: you chose audio only")
    chosen = await _after_audio(t, await _sent(t), 2000)
    later = await _after_audio(t, chosen, 6000)
    assert later["video"] - chosen["video"] <= 1500, (chosen, later)
    assert p.therapist.errors == [] and p.client.errors == []
