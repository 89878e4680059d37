"""Faults under a live message stream. Each asserts what users would notice: every message whose send was
acknowledged arrives, exactly once after the SDK's de-duplication, in both directions."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from functools import partial

import pytest

from client.device import Device, Message
from tests.cluster._balancer import Balancer
from tests.cluster.conftest import Cluster, eventually

STREAM = 45  # messages each way; the fault is injected a third of the way in


async def _stream(
    sender: Device, to_account: str, prefix: str, acked: list[str], until: asyncio.Event | None = None
) -> None:
    """Send one message after the other (each acknowledged before the next), at least STREAM of them,
    and, if ``until`` is given, until it is set."""
    i = 0
    while i < STREAM or (until is not None and not until.is_set()):
        text = f"{prefix} {i}"
        await sender.send(to_account, text, timeout=60)
        acked.append(text)
        i += 1


async def _receive_all(device: Device, expected: list[str], timeout: float = 60) -> list[Message]:
    messages = await device.receive(len(expected), timeout=timeout)
    return messages


def _assert_exactly_once(messages: list[Message], acked: list[str]) -> None:
    bodies = [m.body for m in messages]
    assert sorted(bodies) == sorted(acked), "lost or duplicated messages"
    assert len({m.id for m in messages}) == len(messages)


def _ready(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _is_ready(url: str, status: str) -> bool:
    return _ready(url)[1]["status"] == status


@pytest.fixture
async def balancer(cluster: Cluster) -> AsyncIterator[Balancer]:
    lb = Balancer([("127.0.0.1", node.port) for node in cluster.nodes])
    await lb.start()
    yield lb
    await lb.close()


@pytest.mark.slow
async def test_kill_9_of_the_clients_node_mid_stream_loses_nothing(
    cluster: Cluster, balancer: Balancer
) -> None:
    therapist = await cluster.therapist(node=1)
    client = await cluster.client(balancer.url, therapist)  # the balancer sends it to node 0 first
    assert balancer.connections.get(cluster.nodes[1].port, 0) == 0

    from_client: list[str] = []
    from_therapist: list[str] = []
    streams = asyncio.gather(
        _stream(client, therapist.account_id, "client", from_client),
        _stream(therapist, client.account_id, "therapist", from_therapist),
    )
    await eventually(lambda: len(from_client) >= STREAM // 3, what="a third of the stream acknowledged")
    cluster.nodes[0].kill()
    await asyncio.wait_for(streams, 90)

    _assert_exactly_once(await _receive_all(therapist, from_client), from_client)
    _assert_exactly_once(await _receive_all(client, from_therapist), from_therapist)
    assert balancer.connections.get(cluster.nodes[1].port, 0) > 0, "the client never moved to node 1"
    assert client.realtime.connects >= 2


@pytest.mark.slow
async def test_redis_killed_and_restarted_mid_stream_loses_nothing(cluster: Cluster) -> None:
    therapist = await cluster.therapist(node=1)
    client = await cluster.client(node=0, therapist=therapist)
    from_client: list[str] = []
    from_therapist: list[str] = []
    recovered = asyncio.Event()
    streams = asyncio.gather(
        _stream(client, therapist.account_id, "client", from_client, until=recovered),
        _stream(therapist, client.account_id, "therapist", from_therapist, until=recovered),
    )
    await eventually(lambda: len(from_client) >= STREAM // 3, what="a third of the stream acknowledged")
    cluster.redis.kill()
    # Without Redis, sends are still acknowledged (storage is fine) and nodes report themselves degraded.
    acked = len(from_client)
    await eventually(lambda: len(from_client) >= acked + 5, what="sends acknowledged without Redis")
    for node in cluster.nodes:
        status, body = _ready(node.url)
        assert status == 200 and body["status"] == "degraded", body
    cluster.redis.start()
    for node in cluster.nodes:
        await eventually(partial(_is_ready, node.url, "ok"), what="readiness back to ok")
    # Live pushes resume while the stream goes on: they must not make anyone skip what was missed.
    acked = len(from_client)
    await eventually(lambda: len(from_client) >= acked + 10, what="sends acknowledged after Redis returned")
    recovered.set()
    await asyncio.wait_for(streams, 90)

    _assert_exactly_once(await _receive_all(therapist, from_client), from_client)
    _assert_exactly_once(await _receive_all(client, from_therapist), from_therapist)
    # Nobody had to reconnect: the nodes told their clients to pull what live push missed.
    assert client.realtime.connects == 1 and therapist.realtime.connects == 1
