"""The audio-only fallback interoperates: a therapist scripted with the SDK (aiortc, client/fallback.py)
chooses audio only and the client's browser shows it and stops its video; the client chooses it in the
browser and the SDK hears it (the sealed ``audio_only`` message is the same JSON on both sides)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from client.calls import Call, schedule_session
from signaling.peer import CallPeer
from tests.browser._ui import (
    accept_dialogs,
    sdk_therapist_and_browser_client,
)
from tests.fixtures.server_proc import ConfidantServer
from tests.fixtures.webrtc import loopback_ice
from tests.server._kit import eventually

pytestmark = [pytest.mark.browser, pytest.mark.webrtc]
__all__ = ["loopback_ice"]


async def _quiet_video(peer: CallPeer, audio_frames: int = 50) -> int:
    """Video frames ``peer`` decoded while ``audio_frames`` more audio frames (20 ms each) arrived."""
    before = peer.stats().frames_received.get("video", 0)
    await peer.wait_frames("audio", audio_frames, timeout=10)
    return peer.stats().frames_received.get("video", 0) - before


@pytest.mark.usefixtures("loopback_ice")
async def test_sdk_and_browser_agree_on_audio_only(
    browser: Browser, server: ConfidantServer, tmp_path: Path
) -> None:
    admin, therapist, client = await sdk_therapist_and_browser_client(browser, server, tmp_path / "t.ks")
    call: Call | None = None
    try:
        c = client.page

        accept_dialogs(c)
        client_id = next(x.account_id for x in await therapist.contacts() if x.role == "client")
        sid = (await schedule_session(therapist, [client_id], duration_s=1800))["session_id"]
        await c.get_by_role("link", name="Sessions").click()
        await c.get_by_role("link", name="Join").click()
        await expect(c.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
        call = await Call.join(therapist, sid)
        await call.admit(client_id)
        region = c.get_by_role("region", name="Video session")
        for attempt in range(3):  # a call not connected is placed again, as the browser's watchdog does
            peer = await call.connect(client_id)
            try:
                await peer.wait_connected(timeout=15)
                break
            except TimeoutError:
                if attempt == 2:
                    raise
        await peer.wait_frames("video", 10, timeout=20)
        await expect(region).to_have_attribute("data-call-state", "connected", timeout=30_000)
        member = call.member(client_id)
        assert member is not None
        pair = call.fallback.pair(str(member["peer"]))
        await eventually(lambda: pair.applied_to is peer, 5)

        # The SDK therapist chooses audio only: the browser says so and stops sending its video.
        await call.audio_only(True)
        tile = c.get_by_role("listitem").filter(has_text="Your therapist")
        await expect(tile).to_contain_text("Audio only: Your therapist chose audio only")
        await _quiet_video(peer, 10)  # frames already in flight land
        assert await _quiet_video(peer) == 0

        # Video again from the SDK; then the client chooses audio only in the browser: the SDK hears it.
        await call.audio_only(False)
        await expect(tile).not_to_contain_text("Audio only")
        await peer.wait_frames("video", 10, timeout=15)
        await c.get_by_role("button", name="Audio only").click()
        await eventually(lambda: pair.remote == "chosen", 10)
        await _quiet_video(peer, 10)
        assert await _quiet_video(peer) == 0
        assert admin.errors == [] and client.errors == []
        await call.end()
        call = None
    finally:
        if call is not None:
            await call.close()
        await therapist.close()
