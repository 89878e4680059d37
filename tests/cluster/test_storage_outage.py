"""Storage unavailable under a live stream: a clear ``storage_unavailable`` error, readiness failing, and
nothing acknowledged that was not stored.

SQLite has no server to take away, and no mongod can be installed on our build machines. So the two nodes
of this test run in the test process (real aiohttp + socket.io servers on loopback ports, the real
composition root, a real private redis-server between them) and share one in-process MongoDB TEST DOUBLE
(tests/fixtures/mongo_double.py) that the test makes unreachable, as a dead replica set would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from client.device import Device
from client.errors import ApiError
from server.app import bootstrap_if_empty, build_app
from server.config import Settings
from storage.mongodb import MongoStorage
from tests.cluster.conftest import PASSPHRASE, TERMS, eventually
from tests.cluster.test_faults import _assert_exactly_once, _stream
from tests.fixtures.mongo_double import MongoClientDouble
from tests.fixtures.ports import free_port
from tests.fixtures.redis_proc import RedisProcess


@dataclass
class Node:
    url: str
    runner: web.AppRunner
    admin_code: str | None


async def _start_node(tmp: Path, redis_url: str, double: MongoClientDouble, *, bootstrap: bool) -> Node:
    port = free_port()
    settings = Settings(
        host="127.0.0.1", port=port, data_dir=tmp / "unused", redis_url=redis_url, web_root=None
    )
    storage = MongoStorage.connect("mongodb://mongo-double", client=double)
    built = build_app(settings, storage=storage)
    runner = web.AppRunner(built.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    created = await bootstrap_if_empty(built.ctx) if bootstrap else None
    return Node(f"http://127.0.0.1:{port}", runner, created.code if created else None)


@pytest.fixture
async def nodes(
    tmp_path: Path, redis_proc: RedisProcess
) -> AsyncIterator[tuple[list[Node], MongoClientDouble]]:
    double = MongoClientDouble()
    first = await _start_node(tmp_path, redis_proc.url, double, bootstrap=True)
    second = await _start_node(tmp_path, redis_proc.url, double, bootstrap=False)
    yield [first, second], double
    for node in (first, second):
        await node.runner.cleanup()


async def _get(url: str, path: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(url + path, headers=headers) as resp:
        return resp.status, await resp.json()


@pytest.mark.slow
async def test_storage_outage_is_reported_and_nothing_unstored_is_acknowledged(
    tmp_path: Path, nodes: tuple[list[Node], MongoClientDouble]
) -> None:
    (a, b), double = nodes
    assert a.admin_code is not None
    devices: list[Device] = []

    async def register(url: str, code: str) -> Device:
        device = await Device.register(
            url, code, tmp_path / f"d{len(devices)}.keystore", PASSPHRASE, kdf="fast"
        )
        devices.append(device)
        return device

    try:
        admin = await register(a.url, a.admin_code)
        therapist = await register(b.url, (await admin.invite_therapist())["code"])
        await therapist.publish_terms(TERMS)
        client = await register(a.url, (await therapist.invite_client())["code"])
        await client.accept_terms(therapist.account_id)

        acked: list[str] = []
        restored = asyncio.Event()
        stream = asyncio.ensure_future(_stream(client, therapist.account_id, "client", acked, until=restored))
        await eventually(lambda: len(acked) >= 10, what="sends acknowledged before the outage")

        double.set_unavailable(True)
        # What a user and an operator see: a clear error code and sentence, readiness failing on both nodes.
        with pytest.raises(ApiError) as refused:
            await client.realtime.call("sync", {"after": 0})
        assert refused.value.code == "storage_unavailable" and refused.value.message
        status, body = await _get(a.url, "/api/v1/messages?after=0", client.api.token)
        assert status == 503 and body["error"]["code"] == "storage_unavailable"  # type: ignore[index]
        for node in (a, b):
            status, body = await _get(node.url, "/readyz")
            assert status == 503 and body["checks"]["storage"] == "unavailable"  # type: ignore[index]
        during = len(acked)
        # The SDK keeps retrying the queued send: it is not acknowledged while nothing can be stored.
        status, _ = await _get(b.url, "/readyz")
        assert status == 503 and len(acked) <= during + 1  # at most the one already stored before the cut

        double.set_unavailable(False)
        await eventually(lambda: len(acked) >= during + 10, what="sends acknowledged after storage returned")
        restored.set()
        await asyncio.wait_for(stream, 60)
        _assert_exactly_once(await therapist.receive(len(acked), timeout=30), acked)
    finally:
        for device in devices:
            await device.close()
