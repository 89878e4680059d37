"""The Broker contract, run against the in-process adapter with a driven clock (no sleeps)."""

from __future__ import annotations

import pytest

from storage.memory_broker import MemoryBroker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker(clock: Clock) -> MemoryBroker:
    return MemoryBroker(clock)


async def test_rate_limit_window(broker: MemoryBroker, clock: Clock) -> None:
    assert [await broker.hit("k", 3, 60) for _ in range(3)] == [None, None, None]
    assert await broker.hit("k", 3, 60) == 60
    assert await broker.hit("other", 3, 60) is None  # buckets are per key
    clock.now += 45
    assert await broker.hit("k", 3, 60) == 15  # retry-after counts down
    clock.now += 15
    assert await broker.hit("k", 3, 60) is None  # a new window


async def test_presence_expires_and_is_owned_by_a_node(broker: MemoryBroker, clock: Clock) -> None:
    await broker.set_presence("dev", "node-a", 30)
    assert await broker.get_presence("dev") == "node-a"
    await broker.clear_presence("dev", "node-b")  # another node cannot clear it
    assert await broker.get_presence("dev") == "node-a"
    clock.now += 30
    assert await broker.get_presence("dev") is None
    await broker.set_presence("dev", "node-b", 30)
    await broker.clear_presence("dev", "node-b")
    assert await broker.get_presence("dev") is None


async def test_ephemeral_state(broker: MemoryBroker, clock: Clock) -> None:
    await broker.put_state("room:1", b"waiting", 10)
    assert await broker.get_state("room:1") == b"waiting"
    clock.now += 10
    assert await broker.get_state("room:1") is None
    await broker.put_state("room:2", b"x", 10)
    assert await broker.delete_state("room:2") is True
    assert await broker.delete_state("room:2") is False
    await broker.ping()
    await broker.close()
