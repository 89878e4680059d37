"""SIGTERM on the relay with two browsers connected: both show "Reconnecting…" at once (told by the server,
not after a ping timeout), the relay exits within a few seconds, and when it is back both return to "Online"
by themselves and a message typed meanwhile is delivered once."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import Browser, expect

from tests.browser._ui import bubble, open_chat, practice, send
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

EXIT_WITHIN_SECONDS = 5.0


async def test_browsers_are_told_and_reconnect_after_a_graceful_stop(
    browser: Browser, server: ConfidantServer
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    await open_chat(t, p.client_name)
    await send(c, "Your therapist", "before the restart")
    await expect(bubble(t, "before the restart")).to_be_visible()
    for page in (t, c):
        await expect(page.locator(".conn")).to_have_text("Online")

    started = time.monotonic()
    code = await asyncio.to_thread(server.stop, 30.0)  # SIGTERM; SIGKILL only after 30 s
    took = time.monotonic() - started
    assert code == 0, server.log_tail()
    assert took < EXIT_WITHIN_SECONDS, f"stopping took {took:.1f}s"
    for page in (t, c):  # well inside socket.io's ping timeout (20 s): the server said so
        await expect(page.locator(".conn")).to_have_text("Reconnecting…", timeout=3_000)

    await send(c, "Your therapist", "typed during the restart")
    await server.start_async()
    for page in (t, c):
        await expect(page.locator(".conn")).to_have_text("Online", timeout=30_000)
    await expect(bubble(t, "typed during the restart")).to_have_count(1, timeout=30_000)
    texts = await t.locator(".messages .bubble").all_text_contents()
    assert texts == ["before the restart", "typed during the restart"]
