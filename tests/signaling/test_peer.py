"""Two aiortc peers with synthetic camera + microphone, over an in-process signaling channel."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from signaling.loopback import channel_pair
from signaling.peer import CallPeer

pytestmark = [pytest.mark.webrtc, pytest.mark.usefixtures("loopback_ice")]


@pytest.fixture
async def pair() -> AsyncIterator[tuple[CallPeer, CallPeer]]:
    a, b = channel_pair()
    caller, callee = CallPeer(a, name="therapist"), CallPeer(b, name="client")
    callee.start()
    yield caller, callee
    await caller.close()
    await callee.close()


async def test_media_flows_both_ways_and_hang_up_ends_the_call_for_both(
    pair: tuple[CallPeer, CallPeer],
) -> None:
    caller, callee = pair
    await caller.call()
    stats = await caller.wait_connected()
    await callee.wait_connected()
    for peer in (caller, callee):
        await peer.wait_frames("video", 10)
        await peer.wait_frames("audio", 10)
    assert stats.selected_local_type == "host"
    assert caller.stats().first_frame_after["video"] > 0

    await caller.hang_up()
    await callee.wait_ended()
    assert callee.stats().connection_state == "closed"


async def test_camera_off_and_on_then_screen_share_renegotiates(pair: tuple[CallPeer, CallPeer]) -> None:
    caller, callee = pair
    await caller.call()
    await callee.wait_frames("video", 5)

    await caller.set_camera(False)
    await caller.set_camera(True)
    await callee.wait_frames("video", 5)

    await callee.share_screen()  # the other side renegotiates this time
    await caller.wait_frames("video", 5, track="video:1")
    await callee.wait_frames("video", 5, track="video:0")
    assert caller.stats().rejected_signals == callee.stats().rejected_signals == 0


async def test_reconnect_with_ice_restart_resumes_media(pair: tuple[CallPeer, CallPeer]) -> None:
    caller, callee = pair
    await caller.call()
    await callee.wait_frames("video", 5)

    await callee.restart_ice()
    await caller.wait_connected()
    await callee.wait_connected()
    await caller.wait_frames("video", 10)
    await callee.wait_frames("video", 10)
    assert caller.stats().restarts == callee.stats().restarts == 1


async def test_garbage_from_the_channel_is_rejected_and_the_call_survives() -> None:
    def corrupt_first_offer(data: bytes) -> bytes:
        body = json.loads(data)
        if body["kind"] == "offer" and not corrupt_first_offer.done:  # type: ignore[attr-defined]
            corrupt_first_offer.done = True  # type: ignore[attr-defined]
            return b'{"kind": "offer", "sdp": 42}'
        return data

    corrupt_first_offer.done = False  # type: ignore[attr-defined]
    a, b = channel_pair(a_to_b=corrupt_first_offer)
    caller, callee = CallPeer(a, name="therapist"), CallPeer(b, name="client")
    callee.start()
    try:
        await caller.call()
        await callee.wait_rejected()
        assert callee.last_rejection == "malformed SDP"
        assert callee.stats().connection_state == "new"
        await caller.restart_ice()  # the caller retries
        await callee.wait_frames("video", 5)
    finally:
        await caller.close()
        await callee.close()
