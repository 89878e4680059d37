"""A video session between the Python SDK (therapist, aiortc) and the browser (client): the SDK's boxed
signaling and SignalMessage JSON interoperate with the browser's, media flows both ways, the SDK ends it.
Sealed signaling that is replayed or swapped (an offer sealed by another key under the therapist's join),
also after the browser reloads, is refused by the browser and never applied."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, expect

from client.calls import Call, schedule_session
from crypto import boxed
from crypto.keys import IdentityKeyPair
from signaling.messages import SignalKind, SignalMessage
from tests.browser._ui import (
    accept_dialogs,
    sdk_therapist_and_browser_client,
    unlock,
)
from tests.fixtures.server_proc import ConfidantServer
from tests.fixtures.webrtc import loopback_ice
from tests.server._kit import eventually

pytestmark = [pytest.mark.browser, pytest.mark.webrtc]
__all__ = ["loopback_ice"]

FRAMES = "n => Number(document.querySelector('.quality')?.dataset.frames || 0) > n"


@pytest.mark.usefixtures("loopback_ice")
async def test_sdk_therapist_calls_browser_client(
    browser: Browser, server: ConfidantServer, tmp_path: Path
) -> None:
    admin, therapist, client = await sdk_therapist_and_browser_client(browser, server, tmp_path / "t.ks")
    call: Call | None = None
    try:
        c = client.page

        client_id = next(x.account_id for x in await therapist.contacts() if x.role == "client")
        session = await schedule_session(therapist, [client_id], duration_s=1800)
        await c.get_by_role("link", name="Sessions").click()
        await c.get_by_role("link", name="Join").click()
        await expect(c.get_by_role("heading", name="You are in the waiting room")).to_be_visible()

        rejected: list[str] = []
        c.on("console", lambda m: _rejections(m, rejected))

        accept_dialogs(c)
        sid = session["session_id"]
        call = await Call.join(therapist, sid)  # the client is already waiting
        waiting = [m["account_id"] for m in call.joined["room"]["members"] if m["state"] == "waiting"]
        assert waiting == [client_id]
        sent: list[dict[str, Any]] = []
        real_request = call.conn.request

        async def recording(event: str, data: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
            if event == "call.signal":
                sent.append(dict(data))
            return await real_request(event, data, timeout)

        call.conn.request = recording  # type: ignore[method-assign]
        await call.admit(client_id)
        for attempt in range(3):  # a call not connected is placed again, as the browser's watchdog does
            first = len(sent)  # this attempt's offer is the one replayed below
            peer = await call.connect(client_id)  # the SDK places the call: offer -> the browser answers
            try:
                await peer.wait_connected(timeout=15)
                break
            except TimeoutError:
                if attempt == 2:
                    raise
        await peer.wait_frames("video", 10, timeout=20)

        region = c.get_by_role("region", name="Video session")
        await expect(region).to_have_attribute("data-call-state", "connected", timeout=30_000)
        await c.wait_for_function(FRAMES, arg=5, timeout=20_000)
        assert peer.stats().frames_received.get("video", 0) > 0

        # Hostile bytes on the relay path: the first offer again (a replay), then an offer sealed with another
        # key under the therapist's real join (a swapped SDP). The browser refuses both and stays connected.
        base = len(rejected)
        await real_request("call.signal", sent[first])
        member = call.member(client_id)
        assert member is not None
        await real_request("call.signal", _forged_offer(sid, therapist.device_id, call, member))
        try:
            expected = ["DecryptionFailed", "ReplayedSignal"]
            await eventually(lambda: sorted(rejected[base:]) == expected, timeout=15)
        except TimeoutError:
            raise AssertionError(f"rejections seen: {rejected}") from None
        await expect(region).to_have_attribute("data-call-state", "connected")

        # The browser reloads: a new join, still admitted; the SDK calls again; the old offer does not open.
        await c.reload()
        await unlock(c)
        await expect(region).to_have_attribute("data-call-state", "admitted", timeout=30_000)
        await call.wait_member_state(client_id, ["admitted"])
        host = call
        await call.conn.wait_until(
            lambda: (host.member(client_id) or {}).get("join") != member["join"], 15, "the new join"
        )
        for attempt in range(3):  # like the browser's own watchdog: a call not connected is placed again
            peer = await call.connect(client_id)  # to the browser's current join
            try:
                await expect(region).to_have_attribute("data-call-state", "connected", timeout=15_000)
                break
            except AssertionError:
                if attempt == 2:
                    raise
        before = len(rejected)
        await real_request("call.signal", sent[first])  # the first offer, into the browser's new join
        await eventually(lambda: len(rejected) > before, timeout=15)
        assert set(rejected[before:]) <= {"DecryptionFailed", "ReplayedSignal", "WrongContext"}, rejected
        await c.wait_for_function(FRAMES, arg=5, timeout=20_000)

        await call.end()
        call = None
        await expect(c.get_by_role("heading", name="Session ended")).to_be_visible()
        assert admin.errors == [] and client.errors == []
    finally:
        if call is not None:
            await call.close()
        await therapist.close()


def _rejections(message: ConsoleMessage, into: list[str]) -> None:
    if message.text.startswith("signal rejected "):
        into.append(message.text.removeprefix("signal rejected "))


def _forged_offer(sid: str, therapist_device: str, call: Call, member: dict[str, Any]) -> dict[str, Any]:
    """An offer sealed by a key the relay holds, claiming the therapist's real join."""
    theirs = boxed.JoinStatement.from_bytes(base64.b64decode(member["join"]))
    session, t_dev = bytes.fromhex(sid), bytes.fromhex(therapist_device)
    relay = boxed.Join.create(IdentityKeyPair.generate(), session, t_dev)
    context = boxed.SignalContext(
        session, t_dev, bytes.fromhex(member["device_id"]), call.own.join_id, theirs.join_id
    )
    offer = SignalMessage(SignalKind.OFFER, sdp="v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n").to_wire()
    payload = boxed.seal(relay, theirs, context, 99, offer)
    return {"session_id": sid, "to_peer": member["peer"], "payload": base64.b64encode(payload).decode()}
