"""A video session between the Python SDK (therapist, aiortc) and the browser (client): the SDK's boxed
signaling and SignalMessage JSON interoperate with the browser's, media flows both ways, the SDK ends it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from client.calls import Call, schedule_session
from client.device import Device
from tests.browser._ui import TERMS, create_invitation, join, open_user
from tests.fixtures.server_proc import ConfidantServer
from tests.fixtures.webrtc import loopback_ice

pytestmark = [pytest.mark.browser, pytest.mark.webrtc]
__all__ = ["loopback_ice"]

FRAMES = "n => Number(document.querySelector('.quality')?.dataset.frames || 0) > n"


@pytest.mark.usefixtures("loopback_ice")
async def test_sdk_therapist_calls_browser_client(
    browser: Browser, server: ConfidantServer, tmp_path: Path
) -> None:
    admin = await open_user(browser, server)
    await join(admin.page, f"/#/join/{server.admin_code()}")
    await expect(admin.page.get_by_role("heading", name="Relay health")).to_be_visible()
    link = await create_invitation(admin.page, "Dr. Scripted")

    therapist = await Device.register(server.url, link, tmp_path / "therapist.keystore", "a passphrase")
    call: Call | None = None
    try:
        await therapist.publish_terms(TERMS)
        invitation = await therapist.invite_client()
        client = await open_user(browser, server)
        c = client.page
        await join(c, f"/#/join/{invitation['code']}")
        await c.get_by_label("I have read these terms in full.").check()
        await c.get_by_role("button", name="I accept these terms").click()
        await expect(c.get_by_label("Message to Your therapist")).to_be_visible()

        client_id = next(x.account_id for x in await therapist.contacts() if x.role == "client")
        session = await schedule_session(therapist, [client_id], duration_s=1800)
        await c.get_by_role("link", name="Sessions").click()
        await c.get_by_role("link", name="Join").click()
        await expect(c.get_by_role("heading", name="You are in the waiting room")).to_be_visible()

        call = await Call.join(therapist, session["session_id"])  # the client is already waiting
        waiting = [m["account_id"] for m in call.joined["room"]["members"] if m["state"] == "waiting"]
        assert waiting == [client_id]
        await call.admit(client_id)
        peer = await call.connect(client_id)  # the SDK places the call: offer -> the browser answers
        await peer.wait_connected(timeout=20)
        await peer.wait_frames("video", 10, timeout=20)

        region = c.get_by_role("region", name="Video session")
        await expect(region).to_have_attribute("data-call-state", "connected", timeout=30_000)
        await c.wait_for_function(FRAMES, arg=5, timeout=20_000)
        assert peer.stats().frames_received.get("video", 0) > 0

        await call.end()
        call = None
        await expect(c.get_by_role("heading", name="Session ended")).to_be_visible()
        assert admin.errors == [] and client.errors == []
    finally:
        if call is not None:
            await call.close()
        await therapist.close()
