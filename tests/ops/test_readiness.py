"""Readiness follows the dependencies: storage down means 503 (load balancers stop sending traffic), the
broker or TURN down means "degraded" (still serving), and everything flips back when they return. The same
status shows as confidant_dependency_up on /metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import build_app
from server.config import load_settings
from server.http.metrics_listener import build_metrics_app
from storage.mongodb import MongoStorage
from tests.fixtures.coturn_proc import Coturn
from tests.fixtures.mongo_double import MongoClientDouble
from tests.fixtures.redis_proc import RedisProcess, redis_proc  # noqa: F401  (fixture)
from tests.ops.conftest import relay_server


async def _ready(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    resp = await client.get("/readyz")
    return resp.status, await resp.json()


async def _dependency_up(metrics: TestClient[Any, Any], name: str) -> str:
    text = await (await metrics.get("/metrics")).text()
    line = next(line for line in text.splitlines()
                if line.startswith(f'confidant_dependency_up{{dependency="{name}"}}'))
    return line.rsplit(" ", 1)[1]


@pytest.fixture
async def mongo_app(
    tmp_path: Path,
) -> AsyncIterator[tuple[TestClient[Any, Any], TestClient[Any, Any], MongoClientDouble]]:
    double = MongoClientDouble()
    storage = MongoStorage.connect("mongodb://double/confidant", client=double)
    built = build_app(load_settings({"data_dir": str(tmp_path)}, env={}), storage=storage)
    async with TestClient(TestServer(built.app)) as client, \
            TestClient(TestServer(build_metrics_app(built.ctx))) as metrics:
        yield client, metrics, double
    await storage.close()


async def test_storage_outage_makes_the_node_unready_and_back(
    mongo_app: tuple[TestClient[Any, Any], TestClient[Any, Any], MongoClientDouble],
) -> None:
    client, metrics, double = mongo_app
    assert await _ready(client) == (200, {"status": "ok", "checks": {"storage": "ok", "broker": "ok"}})
    assert await _dependency_up(metrics, "storage") == "1.0"

    double.set_unavailable(True)
    status, body = await _ready(client)
    assert (status, body["status"], body["checks"]["storage"]) == (503, "unavailable", "unavailable")
    assert await _dependency_up(metrics, "storage") == "0.0"
    assert (await client.get("/healthz")).status == 200  # alive: restarting it would not help

    double.set_unavailable(False)
    assert await _ready(client) == (200, {"status": "ok", "checks": {"storage": "ok", "broker": "ok"}})
    assert await _dependency_up(metrics, "storage") == "1.0"


async def test_redis_outage_degrades_and_recovers(tmp_path: Path, redis_proc: RedisProcess) -> None:  # noqa: F811
    server = relay_server(tmp_path, extra_args=["--redis-url", redis_proc.url])
    await server.start_async()
    try:
        async with aiohttp.ClientSession() as http:
            async def ready() -> tuple[int, Any]:
                async with http.get(server.url + "/readyz") as resp:
                    return resp.status, await resp.json()

            assert await ready() == (200, {"status": "ok", "checks": {"storage": "ok", "broker": "ok"}})
            redis_proc.kill()
            status, body = await ready()
            assert (status, body["status"], body["checks"]) == (
                200, "degraded", {"storage": "ok", "broker": "unavailable"})
            async with http.get(server.metrics_url) as resp:
                assert 'confidant_dependency_up{dependency="broker"} 0.0' in await resp.text()
            redis_proc.start()
            # The broker client reconnects with back-off; a load balancer polls /readyz the same way.
            deadline = time.monotonic() + 30
            while await ready() != (200, {"status": "ok", "checks": {"storage": "ok", "broker": "ok"}}):
                assert time.monotonic() < deadline, "the broker never came back"
                await asyncio.sleep(0.1)  # the readiness probe's polling interval
    finally:
        server.stop()


async def test_turn_reachability_is_checked_when_configured(tmp_path: Path) -> None:
    turn = Coturn(tmp_path)
    turn.start()
    settings = load_settings({"data_dir": str(tmp_path / "data"), "turn_urls": turn.url,
                              "turn_secret": turn.secret}, env={})
    built = build_app(settings)
    try:
        async with TestClient(TestServer(built.app)) as client, \
                TestClient(TestServer(build_metrics_app(built.ctx))) as metrics:
            status, body = await _ready(client)
            assert (status, body["checks"]) == (200, {"storage": "ok", "broker": "ok", "turn": "ok"})
            turn.stop()
            status, body = await _ready(client)
            assert (status, body["status"], body["checks"]["turn"]) == (200, "degraded", "unavailable")
            assert await _dependency_up(metrics, "turn") == "0.0"
    finally:
        turn.stop()
