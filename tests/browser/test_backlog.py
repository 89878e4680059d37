"""A therapist back after time away: Chromium drains a 2,000-message backlog and shows the conversation, and
the page never freezes while it does (each received page is one IndexedDB write of the records it changed)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from client.device import Device
from tests.browser._ui import bubble, open_chat, therapist_with_terms, unlock
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

BACKLOG = 2000
# Started before the app loads: the longest gap between two 50 ms timer ticks is how long the page froze.
HEARTBEAT = """
window.__gaps = [];
let last = performance.now();
setInterval(() => { const now = performance.now(); window.__gaps.push(now - last); last = now; }, 50);
"""


async def test_the_browser_drains_a_2000_message_backlog_without_freezing(
    browser: Browser, server: ConfidantServer, tmp_path: Path
) -> None:
    _, therapist, link = await therapist_with_terms(browser, server, "Alex (away)")
    code = link.rsplit("/", 1)[-1]
    sdk = await Device.register(server.url, code, tmp_path / "sdk.keystore", "p", kdf="fast")
    try:
        therapist_id = next(c.account_id for c in await sdk.contacts() if c.role == "therapist")
        await sdk.accept_terms(therapist_id)
        await therapist.page.close()  # the therapist is away; their keys stay in this profile's IndexedDB

        sent = [f"while you were away {i:04d}" for i in range(BACKLOG)]
        for text in sent:
            sdk.enqueue(therapist_id, text)
        await sdk.flush(timeout=300)

        await therapist.context.add_init_script(HEARTBEAT)
        page = await therapist.context.new_page()
        await page.goto("/")
        await unlock(page)  # Argon2id blocks the page by design: the heartbeat starts counting after it
        await expect(page.get_by_role("heading", name="Your clients")).to_be_visible()
        await page.evaluate("() => { window.__gaps = []; }")
        started = time.monotonic()
        await open_chat(page, "Alex (away)")
        await expect(bubble(page, sent[-1])).to_be_visible(timeout=180_000)
        drained = time.monotonic() - started
        await expect(page.locator(".msg.in")).to_have_count(BACKLOG)
        gaps: list[float] = await page.evaluate("() => window.__gaps")
        assert gaps, "the heartbeat never ran"
        # Before: every received page rewrote whole conversations and lists, and every refresh re-rendered
        # every bubble. Measured here under a load average of ~20: worst gaps 0.9-2.0 s (scheduling of a
        # 2-core machine shared by many suites); 2.5 s survives that; it is not a quiet-machine bound.
        assert max(gaps) < 2500, f"the page froze for {max(gaps):.0f} ms while draining ({drained:.1f} s)"
    finally:
        await sdk.close()
