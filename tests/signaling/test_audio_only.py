"""Audio-only fallback in SDK calls (client/fallback.py), through the real app: when video stops arriving
while the audio flows, the receiver falls back and tells the other side (sealed ``audio_only``), both stop
sending video and the audio goes on; the person can try video again, or choose audio only."""

from __future__ import annotations

import pytest

from client.calls import Call, schedule_session
from client.fallback import STALL_S
from signaling.peer import CallPeer
from tests.server._kit import eventually
from tests.signaling._kit import CallServer

pytestmark = pytest.mark.webrtc


async def _quiet_video(peer: CallPeer, audio_frames: int = 50) -> int:
    """Video frames ``peer`` decoded while ``audio_frames`` more audio frames (20 ms each) arrived."""
    before = peer.stats().frames_received.get("video", 0)
    await peer.wait_frames("audio", audio_frames, timeout=10)
    return peer.stats().frames_received.get("video", 0) - before


async def test_video_that_stops_arriving_falls_back_to_audio_and_comes_back(call_server: CallServer) -> None:
    therapist = await call_server.therapist()
    client = await call_server.client(therapist)
    sid = (await schedule_session(therapist, [client.account_id]))["session_id"]
    host, guest = await Call.join(therapist, sid), await Call.join(client, sid)
    await host.admit(client.account_id)
    await guest.wait_admitted()
    answering = await guest.connect(therapist.account_id, place=False)
    calling = await host.connect(client.account_id)
    for peer in (calling, answering):
        await peer.wait_frames("video", 10)
    t_handle, c_handle = guest.member(therapist.account_id), host.member(client.account_id)
    assert t_handle is not None and c_handle is not None
    at_guest, at_host = guest.fallback.pair(t_handle["peer"]), host.fallback.pair(c_handle["peer"])

    await eventually(lambda: at_host.applied_to is calling and at_guest.applied_to is answering, 5)
    # The therapist's video stops getting through (its sender goes quiet without saying so), audio flows.
    await calling.set_camera(False)
    # Noticed within STALL_S plus a sampling period or two.
    await eventually(lambda: at_guest.local == "no_video" and at_host.remote == "no_video", STALL_S + 5)
    await _quiet_video(calling, 10)  # frames already in flight land
    assert await _quiet_video(calling) == 0  # the client stopped sending video too
    assert await _quiet_video(answering) == 0

    # The person tries video again: both send video again.
    await guest.audio_only(False)
    await eventually(lambda: at_host.remote is None, 10)
    await answering.wait_frames("video", 10)
    await calling.wait_frames("video", 10)

    # The therapist chooses audio only: the client is told, both stop video, audio goes on.
    await host.audio_only(True)
    await eventually(lambda: at_guest.remote == "chosen", 10)
    await _quiet_video(calling, 10)  # let the frames in flight land
    assert await _quiet_video(calling) == 0 and await _quiet_video(answering) == 0
    assert host.fallback.active and not guest.fallback.active
    await host.end()
    await guest.close()
