"""The Redis broker against a real, private redis-server: what nodes share, and how it degrades.

Two ``RedisBroker`` instances on one Redis stand for two nodes. The in-process ``MemoryBroker`` answers the
same questions for one node; both satisfy ``storage.broker.Broker``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.broker import Broker
from storage.memory_broker import MemoryBroker
from storage.redis_broker import BrokerUnavailable, RedisBroker
from tests.cluster.conftest import eventually
from tests.fixtures.redis_proc import RedisProcess, redis_proc  # noqa: F401  (fixture)


@pytest.fixture
async def nodes(redis_proc: RedisProcess) -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:  # noqa: F811
    a, b = RedisBroker(redis_proc.url, heartbeat_seconds=0.1), RedisBroker(redis_proc.url)
    yield a, b
    await a.close()
    await b.close()


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest, redis_proc: RedisProcess) -> AsyncIterator[Broker]:  # noqa: F811
    b: Broker = MemoryBroker() if request.param == "memory" else RedisBroker(redis_proc.url)
    yield b
    await b.close()


async def test_broker_basics(broker: Broker) -> None:
    await broker.ping()
    assert [await broker.hit("k", 2, 60) for _ in range(2)] == [None, None]
    retry = await broker.hit("k", 2, 60)
    assert retry is not None and 1 <= retry <= 60
    await broker.set_presence("dev", "node-a", 60)
    assert await broker.get_presence("dev") == "node-a"
    await broker.clear_presence("dev", "node-b")  # not the holder: no effect
    assert await broker.get_presence("dev") == "node-a"
    await broker.clear_presence("dev", "node-a")
    assert await broker.get_presence("dev") is None
    await broker.put_state("room", b"waiting", 60)
    assert await broker.get_state("room") == b"waiting"
    assert await broker.delete_state("room")
    assert await broker.get_state("room") is None


async def test_a_limit_reached_through_one_node_holds_on_the_other(
    nodes: tuple[RedisBroker, RedisBroker],
) -> None:
    a, b = nodes
    for _ in range(3):
        assert await a.hit("send:device:x", 3, 60) is None
    assert await b.hit("send:device:x", 3, 60) is not None


async def test_presence_of_a_dead_node_expires_and_a_live_node_keeps_it(
    nodes: tuple[RedisBroker, RedisBroker],
    redis_proc: RedisProcess,  # noqa: F811
) -> None:
    a, b = nodes
    dead = RedisBroker(redis_proc.url)  # no heartbeat: it "dies" right after connecting its device
    await dead.set_presence("dev-dead", "node-dead", 0.3)
    await a.set_presence("dev-live", "node-a", 0.3)  # re-published every 0.1 s by node a's heartbeat
    await eventually(lambda: _is(b, "dev-dead", None), timeout=5, what="dead node's presence expired")
    assert await b.get_presence("dev-live") == "node-a"
    await dead.close()


async def test_redis_loss_degrades_and_recovers(
    nodes: tuple[RedisBroker, RedisBroker],
    redis_proc: RedisProcess,  # noqa: F811
) -> None:
    a, b = nodes
    await a.set_presence("dev", "node-a", 30)
    redis_proc.kill()
    with pytest.raises(BrokerUnavailable):
        await a.ping()
    assert a.degraded
    # Limits still hold, per node; presence is unknown; room state is refused rather than guessed.
    assert [await a.hit("k", 1, 60), await a.hit("k", 1, 60) is not None] == [None, True]
    assert await a.get_presence("dev") is None
    with pytest.raises(BrokerUnavailable):
        await a.get_state("room")
    redis_proc.start()  # empty: presence must be published again by the node that holds it
    await eventually(lambda: _ping_ok(a), timeout=10, what="broker reachable again")
    assert not a.degraded
    await eventually(lambda: _is(b, "dev", "node-a"), timeout=5, what="presence replayed to the new Redis")


async def _is(broker: RedisBroker, device: str, node: str | None) -> bool:
    return await broker.get_presence(device) == node


async def _ping_ok(broker: RedisBroker) -> bool:
    try:
        await broker.ping()
    except BrokerUnavailable:
        return False
    return True
