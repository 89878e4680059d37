"""A call across two `confidant serve` nodes sharing Redis: room state in the broker, pushes across nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from client.calls import Call, schedule_session
from tests.cluster.conftest import Cluster, make_cluster

pytestmark = pytest.mark.webrtc


@pytest.fixture
async def two_nodes(tmp_path: Path) -> AsyncIterator[Cluster]:
    c = make_cluster(tmp_path, 2)
    try:
        await c.start()
        yield c
    finally:
        await c.close()


async def test_therapist_on_one_node_admits_and_calls_a_client_on_another(
    two_nodes: Cluster, loopback_ice: None
) -> None:
    therapist = await two_nodes.therapist(0)
    client = await two_nodes.client(1, therapist)
    sid = (await schedule_session(therapist, [client.account_id]))["session_id"]

    host = await Call.join(therapist, sid)  # node 0
    guest = await Call.join(client, sid)  # node 1: sees the room node 0 opened (broker state)
    assert guest.state == "waiting"
    assert await host.next_waiting() == client.account_id  # pushed across nodes
    await host.admit(client.account_id)
    await guest.wait_admitted()
    answering = await guest.connect(therapist.account_id, place=False)
    calling = await host.connect(client.account_id)  # sealed signals relayed node 0 -> node 1 and back
    await calling.wait_frames("video", 5)
    await answering.wait_frames("video", 5)

    await host.end()
    assert (await guest.conn.wait_push("call.ended", session_id=sid))["state"] == "ended"
    await guest.close()
