"""Delivery stays bounded while Redis is dead and while it is frozen: two nodes, a real redis-server, messages
flowing both ways across nodes. Sends keep being acknowledged, and every message reaches the other side
within a few seconds of its acknowledgement (not after python-socketio's 60 s back-off), exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from contextlib import suppress

import pytest

from client.device import Device
from tests.cluster.conftest import Cluster, eventually

FAULT_S = 30.0  # what the issue asks: python-socketio's resubscribe back-off would exceed it
DELIVERY_BOUND_S = 5.0  # acknowledgement -> in the recipient's application, during and after a fault
SEND_EVERY_S = 0.1


class Flow:
    """One direction: a sender writing every SEND_EVERY_S, a receiver timing each arrival."""

    def __init__(self, sender: Device, receiver: Device, name: str) -> None:
        self.sender, self.receiver, self.name = sender, receiver, name
        self.acked: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.duplicates = 0
        self.stop = asyncio.Event()

    async def send(self) -> None:
        i = 0
        while not self.stop.is_set():
            text = f"{self.name} {i}"
            await self.sender.send(self.receiver.account_id, text, timeout=60)
            self.acked[text] = time.monotonic()
            i += 1
            with suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), SEND_EVERY_S)

    async def receive(self) -> None:
        async for message in self.receiver.messages():
            if message.body in self.arrived:
                self.duplicates += 1
            self.arrived[str(message.body)] = time.monotonic()

    def acked_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.acked.values() if start <= t <= end)

    def worst_delay(self) -> float:
        return max(self.arrived[text] - at for text, at in self.acked.items())


@pytest.mark.slow
async def test_redis_dead_then_frozen_delivery_stays_within_seconds(cluster: Cluster) -> None:
    therapist = await cluster.therapist(node=1)
    client = await cluster.client(node=0, therapist=therapist)
    flows = [Flow(client, therapist, "c2t"), Flow(therapist, client, "t2c")]
    tasks = [asyncio.create_task(f.send()) for f in flows] + [asyncio.create_task(f.receive()) for f in flows]
    try:
        await eventually(lambda: all(len(f.arrived) >= 5 for f in flows), what="messages flowing")

        # 1. Redis dies (connections reset) for FAULT_S
        cluster.redis.kill()
        start = time.monotonic()
        await asyncio.sleep(FAULT_S)  # the fault's duration is the test's subject, not a synchronisation
        end = time.monotonic()
        cluster.redis.start()
        assert all(f.acked_between(start + 2, end) >= 50 for f in flows), "sends stalled while Redis was dead"

        # 2. Redis freezes (sockets stay open, nothing answers: a partition without resets) for FAULT_S
        await eventually(lambda: all(len(f.arrived) == len(f.acked) for f in flows), what="caught up")
        assert cluster.redis.proc is not None
        os.kill(cluster.redis.proc.pid, signal.SIGSTOP)
        start = time.monotonic()
        try:
            await asyncio.sleep(FAULT_S)
        finally:
            os.kill(cluster.redis.proc.pid, signal.SIGCONT)
        end = time.monotonic()
        assert all(f.acked_between(start + 5, end) >= 50 for f in flows), "sends stalled while Redis froze"

        await asyncio.sleep(2)  # a little traffic after the fault, then stop and let everything arrive
        for f in flows:
            f.stop.set()
        await asyncio.gather(*tasks[:2])
        await eventually(lambda: all(len(f.arrived) == len(f.acked) for f in flows), timeout=30,
                         what="every acknowledged message delivered")
    finally:
        for task in tasks:
            task.cancel()
    for f in flows:
        assert set(f.arrived) == set(f.acked) and f.duplicates == 0, f"{f.name}: lost or duplicated"
        assert f.worst_delay() < DELIVERY_BOUND_S, (
            f"{f.name}: a message took {f.worst_delay():.1f}s from acknowledgement to the application\n"
            + cluster.logs()
        )
