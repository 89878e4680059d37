"""The browser and the Python SDK (client/) speak the same protocol: a therapist in Chromium and a client
scripted with the SDK exchange messages both ways through a real server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from client.device import Device
from tests.browser._ui import bubble, open_chat, send, shot, therapist_with_terms
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser


async def test_browser_and_python_sdk_exchange_messages(
    browser: Browser, server: ConfidantServer, artifacts: Path, tmp_path: Path
) -> None:
    admin, therapist, link = await therapist_with_terms(browser, server, "Alex (scripted)")
    # The whole link: the SDK checks the therapist's account key against the fragment's fingerprint.
    sdk = await Device.register(server.url, link, tmp_path / "sdk.keystore", "sdk passphrase")
    try:
        contacts = await sdk.contacts()
        therapist_id = next(c.account_id for c in contacts if c.role == "therapist")
        # The fingerprint the therapist's browser put in the link verifies its account key for the SDK.
        assert sdk.trust.is_verified(therapist_id)
        await sdk.accept_terms(therapist_id)

        sent = [await sdk.send(therapist_id, f"from python {i}: hello from the SDK") for i in range(3)]
        t = therapist.page
        await open_chat(t, "Alex (scripted)")
        # One safety number per contact, over the account keys: the same in the browser and in the SDK.
        await t.get_by_role("link", name="Safety number", exact=True).click()
        shown = await t.get_by_test_id("safety-number").get_attribute("aria-label")
        assert shown
        assert shown.removeprefix("Safety number: ").split() == sdk.safety_number(therapist_id).split()
        await open_chat(t, "Alex (scripted)")
        for i in range(3):
            await expect(bubble(t, f"from python {i}: hello from the SDK")).to_be_visible()

        for i in range(3):
            await send(t, "Alex (scripted)", f"from chromium {i}: hello back, in the browser")
        received = await sdk.receive(3, timeout=30)
        expected = [f"from chromium {i}: hello back, in the browser" for i in range(3)]
        assert [m.body for m in received] == expected
        assert all(m.from_account == therapist_id and m.to_account == sdk.account_id for m in received)
        # The SDK's receipts (one per page) turn the browser's messages "Delivered".
        await expect(t.locator(".msg.out[data-state=delivered]")).to_have_count(3)
        await expect(t.locator(".msg.out").last).to_contain_text("Delivered")
        await shot(t, artifacts, "therapist-with-sdk-client")
        # The browser's receipts reach the SDK as `delivered` events for the ids it sent, never as an
        # undecryptable envelope.
        events = await _events_until_delivered(sdk, therapist_id, set(sent))
        assert not [e for e in events if isinstance(e, dict) and e["event"] == "undecryptable"], events
        assert admin.errors == [] and therapist.errors == []
    finally:
        await sdk.close()


async def _events_until_delivered(sdk: Device, account_id: str, ids: set[str]) -> list[Any]:
    """The device's events until ``account_id``'s receipts have covered ``ids`` (30 s at most)."""
    events: list[Any] = []
    deadline = time.monotonic() + 30
    while ids:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no receipt for {ids}; events: {events}"
        event = await asyncio.wait_for(sdk.events.get(), remaining)
        events.append(event)
        if isinstance(event, dict) and event["event"] == "delivered" and event["account_id"] == account_id:
            ids -= set(event["ids"])
    while not sdk.events.empty():
        events.append(sdk.events.get_nowait())
    return events
