"""Scheduling from the Python SDK reaches a client in the browser: a therapist scripted with the SDK
schedules, moves and cancels a session, and the client in Chromium reads each notice in its conversation,
word for word as the browser would have written it (tests/vectors/schedule_notice.json pins both)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from client import schedule
from tests.browser._ui import (
    sdk_therapist_and_browser_client,
)
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

HOUR_MS = 3600 * 1000


async def test_sdk_therapist_reschedules_and_cancels_and_the_browser_client_is_told(
    browser: Browser, server: ConfidantServer, tmp_path: Path
) -> None:
    admin, therapist, client = await sdk_therapist_and_browser_client(browser, server, tmp_path / "t.ks")
    try:
        c = client.page
        client_id = next(x.account_id for x in await therapist.contacts() if x.role == "client")

        start = (int(time.time() * 1000) // 60000) * 60000 + 48 * HOUR_MS
        first, second = await schedule.schedule(
            therapist, [client_id], starts_at=start, duration_s=50 * 60, weeks=2
        )
        moved = await schedule.reschedule(therapist, first, starts_at=start + 3 * HOUR_MS)
        await schedule.cancel(therapist, second)

        conversation = c.locator(".messages .bubble")
        for text in (
            schedule.scheduled_text(first, 2),
            schedule.moved_text(first, moved),
            schedule.cancelled_text(second),
        ):
            await expect(conversation.filter(has_text=text)).to_have_count(1)
        await c.get_by_role("link", name="Sessions").click()
        listed = c.get_by_role("list", name="Sessions").get_by_role("listitem")
        await expect(listed).to_have_count(1)  # the moved one; the cancelled one is gone
        assert admin.errors == [] and client.errors == []
    finally:
        await therapist.close()
