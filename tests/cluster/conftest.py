"""A real cluster for the multi-node and fault tests: one private redis-server, two or three
``confidant serve`` processes sharing it and one SQLite database file, and SDK devices on chosen nodes.

Several processes may share one SQLite file: the database is in WAL mode and every connection has a
busy timeout, so writers from different nodes queue on SQLite's write lock (one at a time, each commit
durable) and readers never block. Node 0 starts first (it creates the schema and prints the admin
invitation); the others start once the admin account exists.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from client.device import Device, Message
from tests.fixtures.redis_proc import RedisProcess, redis_proc  # noqa: F401  (fixture)
from tests.fixtures.server_proc import ConfidantServer

PASSPHRASE = "cluster test passphrase"
TERMS = "Confidential, except risk of serious harm, suspected abuse, or a court order."


async def eventually(
    check: Callable[[], Awaitable[bool] | bool], timeout: float = 20.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it holds or the deadline passes (polling is the synchronisation)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s")
        await asyncio.sleep(0.02)


@dataclass
class Cluster:
    tmp: Path
    redis: RedisProcess
    nodes: list[ConfidantServer]
    devices: list[Device] = field(default_factory=list)
    _admin: Device | None = None
    _count: int = 0

    async def start(self) -> None:
        await self.nodes[0].start_async()
        # Every node prints (and thereby re-issues) a bootstrap invitation while the database has no
        # account: create the admin before the other nodes start.
        await self.admin()
        await asyncio.gather(*(node.start_async() for node in self.nodes[1:]))

    def url(self, node: int) -> str:
        return self.nodes[node].url

    async def _register(self, node: int | str, code: str) -> Device:
        self._count += 1
        url = node if isinstance(node, str) else self.url(node)
        device = await Device.register(
            url, code, self.tmp / f"device-{self._count}.keystore", PASSPHRASE, kdf="fast"
        )
        self.devices.append(device)
        return device

    async def admin(self) -> Device:
        if self._admin is None:
            self._admin = await self._register(0, self.nodes[0].admin_code())
        return self._admin

    async def therapist(self, node: int | str) -> Device:
        """A therapist with published terms, registered (and connected) at node index or URL ``node``."""
        admin = await self.admin()
        therapist = await self._register(node, (await admin.invite_therapist())["code"])
        await therapist.publish_terms(TERMS)
        return therapist

    async def client(self, node: int | str, therapist: Device) -> Device:
        """A client of ``therapist`` that accepted the terms, connected at node index or URL ``node``."""
        client = await self._register(node, (await therapist.invite_client())["code"])
        await client.accept_terms(therapist.account_id)
        return client

    async def reopen(self, device: Device, node: int) -> Device:
        """Close ``device`` and open its keystore again against ``node`` (what an app does after a crash)."""
        await device.close()
        self.devices.remove(device)
        reopened = await Device.open(device.keystore_path, PASSPHRASE, server_url=self.url(node))
        self.devices.append(reopened)
        return reopened

    async def close(self) -> None:
        for device in self.devices:
            await device.close()
        for node in self.nodes:
            node.stop()
        self.redis.stop()

    def logs(self) -> str:
        return "\n".join(f"--- node {i} ---\n{n.log_tail(40)}" for i, n in enumerate(self.nodes))


def make_cluster(tmp: Path, nodes: int, extra_args: tuple[str, ...] = ()) -> Cluster:
    redis = RedisProcess(tmp)
    redis.start()
    data = tmp / "data"
    servers = [
        ConfidantServer(
            data,
            log_path=tmp / f"node-{i}.log",
            extra_args=["--redis-url", redis.url, *extra_args],
            log_level="info",
        )
        for i in range(nodes)
    ]
    return Cluster(tmp, redis, servers)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    c = make_cluster(tmp_path, 2)
    try:
        await c.start()
        yield c
    finally:
        await c.close()


@pytest.fixture
async def cluster3(tmp_path: Path) -> AsyncIterator[Cluster]:
    c = make_cluster(tmp_path, 3)
    try:
        await c.start()
        yield c
    finally:
        await c.close()


def bodies(messages: list[Message]) -> list[Any]:
    return [m.body for m in messages]
