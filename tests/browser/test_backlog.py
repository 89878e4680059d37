"""A therapist back after time away: Chromium drains a 2,000-message backlog and shows the conversation, and
the page never freezes while it does (each received page is one IndexedDB write of the records it changed, and
decryption yields to the page every 25 envelopes): no main-thread task (PerformanceObserver "longtask") over
LONGEST_TASK_MS while draining."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from client.device import Device
from tests.browser._ui import User, bubble, open_chat, therapist_with_terms, unlock
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

BACKLOG = 2000
CUT_BACKLOG = 1600
SYNC_PAGE = 200  # envelopes per `sync` page (web-client/src/app/messenger.js)
# Started before the app loads: every main-thread task over 50 ms (the browser's "long task"), and the longest
# gap between two 50 ms timer ticks (what a person sees as the page freezing).
WATCH = """
window.__gaps = [];
window.__tasks = [];
let last = performance.now();
setInterval(() => { const now = performance.now(); window.__gaps.push(now - last); last = now; }, 50);
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__tasks.push(e.duration); })
  .observe({ type: "longtask" });
window.__said = [];  // what the screen-reader announcer said
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.id !== "announcer") continue;
    for (const n of r.addedNodes) if (n.textContent) window.__said.push(n.textContent);
  }
}).observe(document, { subtree: true, childList: true });
"""
# Measured here under a load average of 9-20 (a 2-core machine shared by many suites stretches every task):
# longest task 83-409 ms, and 245-1,039 ms before decryption was sliced by time and dates formatted with one
# formatter. The bound is for that machine, not a target; bench/RESULTS.md has the figures.
LONGEST_TASK_MS = 1000


async def away_with_backlog(
    browser: Browser, server: ConfidantServer, keystore: Path, count: int
) -> tuple[User, Device, list[str]]:
    """A browser therapist whose tab is closed while an SDK client queues `count` messages for them."""
    _, therapist, link = await therapist_with_terms(browser, server, "Alex (away)")
    # The whole link: the SDK checks the therapist's account key against the fingerprint in its fragment.
    sdk = await Device.register(server.url, link, keystore, "p", kdf="fast")
    try:
        therapist_id = next(c.account_id for c in await sdk.contacts() if c.role == "therapist")
        await sdk.accept_terms(therapist_id)
        await therapist.page.close()  # the therapist is away; their keys stay in this profile's IndexedDB
        sent = [f"while you were away {i:04d}" for i in range(count)]
        for text in sent:
            sdk.enqueue(therapist_id, text)
        await sdk.flush(timeout=300)
    except BaseException:
        await sdk.close()
        raise
    return therapist, sdk, sent


async def test_the_browser_drains_a_2000_message_backlog_without_freezing(
    browser: Browser, server: ConfidantServer, tmp_path: Path
) -> None:
    therapist, sdk, sent = await away_with_backlog(browser, server, tmp_path / "sdk.keystore", BACKLOG)
    try:
        await therapist.context.add_init_script(WATCH)
        page = await therapist.context.new_page()
        await page.goto("/")
        await unlock(page)  # Argon2id blocks the page by design: the heartbeat starts counting after it
        await expect(page.get_by_role("heading", name="Your clients")).to_be_visible()
        await page.evaluate("() => { window.__gaps = []; window.__tasks = []; }")
        started = time.monotonic()
        await open_chat(page, "Alex (away)")
        await expect(bubble(page, sent[-1])).to_be_visible(timeout=180_000)
        drained = time.monotonic() - started
        await expect(page.locator(".msg.in")).to_have_count(BACKLOG)
        gaps: list[float] = await page.evaluate("() => window.__gaps")
        tasks: list[float] = await page.evaluate("() => window.__tasks")
        assert gaps, "the heartbeat never ran"
        longest = max(tasks, default=0.0)
        print(
            f"drained {BACKLOG} in {drained:.1f} s; longest task {longest:.0f} ms ({len(tasks)} over 50 ms);"
            f" longest timer gap {max(gaps):.0f} ms"
        )
        # Before: every received page rewrote whole conversations and lists, and every refresh re-rendered
        # every bubble (worst gaps 2.7 s here).
        assert longest < LONGEST_TASK_MS, f"a {longest:.0f} ms task froze the page while draining"
        assert max(gaps) < 2500, f"the page froze for {max(gaps):.0f} ms while draining ({drained:.1f} s)"
        # A screen reader hears the backlog as bursts (at most the first message and one summary from the
        # client list, then from the conversation once open), not one announcement per page, each cutting off
        # the one before (web-client/test/announce.test.js has the burst's rules).
        said: list[str] = await page.evaluate("() => window.__said")
        assert len([t for t in said if "from Alex (away)" in t]) <= 4, said
    finally:
        await sdk.close()


async def test_a_drain_cut_short_loses_nothing_and_shows_nothing_twice(
    browser: Browser, server: ConfidantServer, tmp_path: Path
) -> None:
    """The tab is closed in the middle of a drain (pages commit while the next is decrypted, and are
    acknowledged after): what the server delivers again on the next visit is shown once, and nothing is
    lost."""
    therapist, sdk, sent = await away_with_backlog(browser, server, tmp_path / "sdk.keystore", CUT_BACKLOG)
    try:
        page = await therapist.context.new_page()
        # The server's answers after the third `sync` page are held back from this tab, so the drain is still
        # going when the tab closes, whatever the machine's speed: it closes once the third page is shown (its
        # records written), the fourth asked for and unanswered, the third's acknowledgement perhaps not sent.
        answered = 0

        def hold_after_three_pages(ws: WebSocketRoute) -> None:
            server_side = ws.connect_to_server()

            def to_page(message: str | bytes) -> None:
                nonlocal answered
                if isinstance(message, str) and message.startswith("43") and '"envelopes"' in message:
                    answered += 1  # a socket.io acknowledgement carrying a `sync` page
                    if answered > 3:
                        return
                ws.send(message)

            server_side.on_message(to_page)
            ws.on_message(server_side.send)

        await page.route_web_socket(re.compile(r"/socket\.io/"), hold_after_three_pages)
        await page.goto("/")
        await unlock(page)
        await open_chat(page, "Alex (away)")
        await expect(page.locator(".msg.in").nth(2 * SYNC_PAGE)).to_be_attached(timeout=60_000)
        await page.close()  # mid-drain
        assert answered >= 3, "the drain did not get as far as expected before the tab closed"

        page = await therapist.context.new_page()
        await page.goto("/")
        await unlock(page)
        await open_chat(page, "Alex (away)")
        await expect(bubble(page, sent[-1])).to_be_visible(timeout=120_000)
        await expect(page.locator(".msg.in")).to_have_count(CUT_BACKLOG)
        texts: list[str] = await page.locator(".msg.in .bubble").all_text_contents()
        assert sorted(texts) == sent, "a message is missing or shown twice after the interrupted drain"
    finally:
        await sdk.close()
