"""Bearer tokens that expire every two seconds: the browser logs in again (challenge-response with its device
key) whenever a call or the socket is refused, and the user notices nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.browser._ui import bubble, open_chat, practice, send
from tests.browser.conftest import LOOP
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser


@pytest_asyncio.fixture(loop_scope=LOOP)
async def short_token_server(tmp_path: Path, web_dist: Path) -> AsyncIterator[ConfidantServer]:
    args = ["--web-root", str(web_dist), "--token-ttl-seconds", "2"]
    srv = ConfidantServer(tmp_path / "data", extra_args=args)
    await srv.start_async()
    try:
        yield srv
    finally:
        srv.stop()


async def test_expired_tokens_are_renewed_silently(
    browser: Browser, short_token_server: ConfidantServer
) -> None:
    p = await practice(browser, short_token_server)  # takes several token lifetimes
    t, c = p.therapist.page, p.client.page
    await open_chat(t, p.client_name)
    for i in range(5):
        await send(c, "Your therapist", f"client {i}")
        await expect(bubble(t, f"client {i}")).to_be_visible()
        await send(t, p.client_name, f"therapist {i}")
        await expect(bubble(c, f"therapist {i}")).to_be_visible()
    await expect(c.locator(".msg.out[data-state=delivered]")).to_have_count(5)
    await expect(t.locator(".msg.out[data-state=delivered]")).to_have_count(5)
    await expect(t.locator(".msg.failed")).to_have_count(0)
    await expect(c.locator(".conn")).to_have_text("Online")
    assert p.therapist.errors == [] and p.client.errors == []
