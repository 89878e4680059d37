"""Messages typed while the server is down wait in the outbox ("Waiting for connection"), are sent when it
comes back, and the other side catches up from its last position: nothing acknowledged is lost."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, WebSocket, expect

from tests.browser._ui import assert_server_never_saw, bubble, open_chat, practice, send, shot
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser
EVENT = re.compile(r"42\d*(\[.*\])", re.S)  # a socket.io event frame: "42", its ack id, [name, data]


def events_sent(frames: list[str], name: str) -> list[Any]:
    """The data of every ``name`` event among the socket.io frames a page sent."""
    found = []
    for frame in frames:
        m = EVENT.fullmatch(frame)
        if m:
            event = json.loads(m.group(1))
            if event[0] == name:
                found.append(event[1])
    return found


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

    # What the client's page sends once the relay is back (the therapist's own sends, e.g. its delivery
    # receipts, are not the client's queue).
    frames: list[str] = []

    def on_socket(ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: frames.append(payload if isinstance(payload, str) else ""))

    c.on("websocket", on_socket)
    await server.start_async()
    await expect(c.locator(".conn")).to_have_text("Online", timeout=30_000)
    for text in ("typed while offline 1", "typed while offline 2"):
        await expect(bubble(t, text)).to_have_count(1, timeout=30_000)
    await expect(c.locator(".msg.out[data-state=delivered]")).to_have_count(3, timeout=30_000)
    # In order, each once.
    texts = await t.locator(".messages .bubble").all_text_contents()
    assert texts == ["before the outage", "typed while offline 1", "typed while offline 2"]
    # The queue went out as one send_batch event (one round trip, one commit), not one event per message.
    batches = events_sent(frames, "send_batch")
    assert [len(b["sends"]) for b in batches] == [2]
    assert events_sent(frames, "send") == []
    assert_server_never_saw(server, texts)
