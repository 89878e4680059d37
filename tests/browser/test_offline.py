"""Messages typed while the server is down wait in the outbox ("Waiting for connection"), are sent when it
comes back, and the other side catches up from its last position: nothing acknowledged is lost."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.browser._ui import assert_server_never_saw, bubble, open_chat, practice, send, shot
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser


async def test_offline_queue_and_reconnect(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    await open_chat(t, p.client_name)
    await send(c, "Your therapist", "before the outage")
    await expect(bubble(t, "before the outage")).to_be_visible()

    server.kill()  # a power cut: both browsers lose the relay
    await expect(c.locator(".conn")).to_have_text("Reconnecting…")
    await send(c, "Your therapist", "typed while offline 1")
    await send(c, "Your therapist", "typed while offline 2")
    queued = c.locator(".msg.out[data-state=queued]")
    await expect(queued).to_have_count(2)
    await expect(queued.first).to_contain_text("Waiting for connection")
    await shot(c, artifacts, "client-offline-queue")

    await server.start_async()
    await expect(c.locator(".conn")).to_have_text("Online", timeout=30_000)
    for text in ("typed while offline 1", "typed while offline 2"):
        await expect(bubble(t, text)).to_have_count(1, timeout=30_000)
    await expect(c.locator(".msg.out[data-state=delivered]")).to_have_count(3, timeout=30_000)
    # In order, each once.
    texts = await t.locator(".messages .bubble").all_text_contents()
    assert texts == ["before the outage", "typed while offline 1", "typed while offline 2"]
    # The queue went out as one send_batch event (one round trip, one commit), not one event per message.
    async with aiohttp.ClientSession() as http, http.get(server.metrics_url) as resp:
        metrics = await resp.text()
    assert 'confidant_socket_events_total{event="send_batch",outcome="ok"} 1.0' in metrics
    assert_server_never_saw(server, texts)
