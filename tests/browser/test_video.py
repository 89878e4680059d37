"""Video sessions between browsers through a real server: the therapist schedules, clients wait in the
waiting room and are admitted, everyone connects (a full mesh for a couple's session), a reload rejoins
without a new admission, and the others are told who dropped, who is back and who left."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser._ui import (
    TERMS,
    User,
    accept_dialogs,
    create_invitation,
    go_to,
    join,
    open_user,
    practice,
    shot,
    unlock,
    violations,
)
from tests.fixtures.server_proc import ConfidantServer

pytestmark = [pytest.mark.browser, pytest.mark.webrtc]

TILES_WITH_FRAMES = """([count, n]) => {
  const tiles = [...document.querySelectorAll('.tile')];
  return tiles.length === count && tiles.every(t => Number(t.dataset.frames || 0) > n);
}"""


async def sees_videos(page: Page, count: int, frames: int = 10) -> None:
    call = page.get_by_role("region", name="Video session")
    # A call that has not connected after 8 s is placed again by the offering browser: allow for one retry.
    await expect(call).to_have_attribute("data-call-state", "connected", timeout=30_000)
    # Frames decoded from each other person (RTCPeerConnection.getStats), one tile each.
    await page.wait_for_function(TILES_WITH_FRAMES, arg=[count, frames], timeout=30_000)


async def schedule(t: Page, names: list[str]) -> None:
    await t.get_by_role("link", name="Sessions").click()
    for name in names:
        await t.get_by_label(name, exact=True).check()
    await t.get_by_role("button", name="Schedule session").click()
    item = t.get_by_role("list", name="Sessions").get_by_role("listitem").filter(has_text="50 minutes with")
    for name in names:
        item = item.filter(has_text=name)
    await expect(item).to_be_visible()


async def client_joins(c: Page) -> None:
    await go_to(c, "Sessions")
    await c.get_by_role("link", name="Join").click()
    await expect(c.get_by_role("heading", name="You are in the waiting room")).to_be_visible()


async def test_waiting_room_admit_connect_peer_state_and_leave(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    accept_dialogs(c)

    await schedule(t, [p.client_name])
    await shot(t, artifacts, "therapist-sessions")
    await client_joins(c)
    await shot(c, artifacts, "client-waiting-room")
    assert await violations(c) == []

    await t.get_by_role("link", name="Open waiting room").click()
    admit = t.get_by_role("button", name=f"Admit {p.client_name}")
    await expect(admit).to_be_visible()
    await shot(t, artifacts, "therapist-waiting-room")
    await admit.click()

    await sees_videos(t, 1)
    await sees_videos(c, 1)
    await expect(t.get_by_label("Elapsed time")).to_have_text(re.compile(r"^0\d:\d\d$"))
    tile = t.get_by_role("listitem").filter(has_text=p.client_name)
    await shot(t, artifacts, "therapist-call")
    await shot(c, artifacts, "client-call")
    assert await violations(t) == []

    # The client mutes and turns the camera off (toggle buttons: the name stays, the pressed state changes);
    # the therapist sees both on the client's tile.
    await c.get_by_role("button", name="Mute").click()
    await expect(c.get_by_role("button", name="Mute")).to_have_attribute("aria-pressed", "true")
    await c.get_by_role("button", name="Camera off").click()
    await expect(c.get_by_role("button", name="Camera off")).to_have_attribute("aria-pressed", "true")
    await expect(tile.locator(".badge", has_text="Muted")).to_be_visible()
    await expect(tile.locator(".badge", has_text="Camera off")).to_be_visible()

    # Leaving asks first; the therapist is told.
    await c.get_by_role("button", name="Leave").click()
    await expect(c.get_by_role("heading", name="Session ended")).to_be_visible()
    await shot(c, artifacts, "client-session-ended")
    assert await violations(c) == []  # the ended screen is readable (contrast) and calm
    await expect(t.get_by_role("log", name="Who joined and left")).to_have_text(
        f"{p.client_name} left the session"
    )
    accept_dialogs(t)
    await t.get_by_role("button", name="End session").click()
    await expect(t.get_by_role("heading", name="Session ended")).to_be_visible()
    assert p.therapist.errors == [] and p.client.errors == []


async def second_client(browser: Browser, server: ConfidantServer, therapist: Page, name: str) -> User:
    await therapist.get_by_role("link", name="Sessions").click()  # off the invite screen and its old link
    await expect(therapist.get_by_role("heading", name="Video sessions")).to_be_visible()
    link = await create_invitation(therapist, name)
    user = await open_user(browser, server)
    await join(user.page, link)
    await expect(user.page.get_by_role("document", name="Terms text")).to_have_text(TERMS)
    await user.page.get_by_label("I have read these terms in full.").check()
    await user.page.get_by_role("button", name="I accept these terms").click()
    await expect(user.page.get_by_label("Message to Your therapist")).to_be_visible()
    return user


async def test_a_couples_session_is_a_mesh_and_survives_the_therapist_reloading(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server)
    partner = await second_client(browser, server, p.therapist.page, "Alex Kim")
    t, a, b = p.therapist.page, p.client.page, partner.page
    for page in (t, a, b):
        accept_dialogs(page)
    await b.set_viewport_size({"width": 390, "height": 844})  # one of them is on a phone

    await schedule(t, [p.client_name, "Alex Kim"])
    await client_joins(a)
    await client_joins(b)
    await t.get_by_role("link", name="Open waiting room").click()
    for name in (p.client_name, "Alex Kim"):
        await t.get_by_role("button", name=f"Admit {name}").click()

    for page in (t, a, b):
        await sees_videos(page, 2)
    # Each client sees the other by the name the therapist gave them, never an id.
    await expect(a.get_by_role("listitem").filter(has_text="Alex Kim")).to_be_visible()
    await expect(b.get_by_role("listitem").filter(has_text=p.client_name)).to_be_visible()
    await shot(b, artifacts, "client-couples-call-phone")
    await shot(t, artifacts, "therapist-couples-call")

    # The therapist reloads in the middle of the session: the clients are told, and everyone is connected
    # again after the unlock, without anybody admitting anyone.
    await t.reload()
    await expect(a.get_by_role("log", name="Who joined and left")).to_have_text(
        "Your therapist's connection dropped — waiting for them to return"
    )
    await unlock(t)
    await expect(a.get_by_role("log", name="Who joined and left")).to_have_text(
        "Your therapist is back", timeout=30_000
    )
    await expect(t.get_by_role("button", name="Admit Alex Kim")).to_have_count(0)
    for page in (t, a, b):
        await sees_videos(page, 2)
    assert p.therapist.errors == [] and p.client.errors == [] and partner.errors == []


async def test_weekly_sessions_rescheduled_and_cancelled_are_told_to_the_client(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    accept_dialogs(t)
    conversation = c.locator(".messages .bubble")

    await t.get_by_role("link", name="Sessions").click()
    await t.get_by_label(p.client_name, exact=True).check()
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)
    await t.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    await t.get_by_label("Repeats").select_option(label="Weekly, 4 sessions")
    await t.get_by_role("button", name="Schedule session").click()
    sessions_t = t.get_by_role("list", name="Sessions").get_by_role("listitem")
    await expect(sessions_t).to_have_count(4)
    await expect(conversation.filter(has_text="Video sessions scheduled: weekly for 4 weeks")).to_be_visible()

    # The therapist moves the first one and cancels the second: the client is told each time.
    await sessions_t.nth(0).get_by_role("button", name="Reschedule").click()
    await (
        sessions_t.nth(0)
        .get_by_label("New start")
        .fill((start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    )
    await sessions_t.nth(0).get_by_role("button", name="Save new time").click()
    await expect(conversation.filter(has_text="Video session moved from")).to_be_visible()
    await sessions_t.nth(1).get_by_role("button", name="Cancel").click()
    await expect(conversation.filter(has_text="Video session cancelled")).to_be_visible()
    await shot(c, artifacts, "client-told-of-schedule")

    await c.get_by_role("link", name="Sessions").click()
    sessions_c = c.get_by_role("list", name="Sessions").get_by_role("listitem")
    await expect(sessions_c).to_have_count(3)
    async with c.expect_download() as info:
        await sessions_c.nth(0).get_by_role("button", name="Add to calendar").click()
    ics = Path(await (await info.value).path()).read_text()
    moved = (start + timedelta(hours=3)).strftime("%Y%m%dT%H%M00Z")
    assert "BEGIN:VEVENT" in ics and f"DTSTART:{moved}" in ics
    assert p.client_name not in ics and "Maya" not in ics  # no names in a file calendars sync elsewhere
    assert await violations(t) == []
