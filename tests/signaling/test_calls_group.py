"""A family session through the real app: the therapist and three clients in a full mesh of aiortc peers."""

from __future__ import annotations

import asyncio

import pytest

from client.calls import Call, schedule_session
from tests.signaling._kit import CallServer

pytestmark = pytest.mark.webrtc


async def test_four_people_connect_in_a_mesh_and_clients_know_each_other_only_by_the_therapists_names(
    call_server: CallServer,
) -> None:
    therapist = await call_server.therapist()
    clients = [await call_server.client(therapist) for _ in range(3)]
    ids = [c.account_id for c in clients]
    sid = (await schedule_session(therapist, ids))["session_id"]
    host = await Call.join(therapist, sid)
    guests = [await Call.join(c, sid) for c in clients]
    for account_id in ids:
        await host.admit(account_id)
    for guest in guests:
        await guest.wait_admitted()

    names = dict(zip(ids, ("Noor", "Sam", "Ari"), strict=True))
    await host.connect_all(3)
    await host.introduce(names)
    await asyncio.gather(*(g.connect_all(3) for g in guests))
    everyone = [host, *guests]
    for call in everyone:
        assert len(call.peers) == 3
        for peer in call.peers.values():
            await peer.wait_frames("video", 5, timeout=30)

    # A client sees the others by handle and by the names the therapist gave, never by their ids.
    first = guests[0]
    assert sorted(p.name for p in first.roster.values()) == ["Ari", "Sam"]
    room = str(first.room)
    for other in clients[1:]:
        assert other.account_id not in room and other.device_id not in room

    # Mute and camera off travel sealed to every peer.
    await first.set_media(audio=False, video=False)
    await host.conn.wait_until(
        lambda: host.media.get(first.handle) == {"audio": False, "video": False}, 10, "media state"
    )
    await host.end()
    for guest in guests:
        await guest.close()
