"""/metrics cannot be reached from the public side, through the shipped HAProxy config (a real haproxy)
or straight at a node's public port, whatever the spelling; Prometheus still reads it on its own port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.fixtures.haproxy_proc import HAProxy
from tests.fixtures.server_proc import ConfidantServer

# Spellings that a raw-path rule (`path_beg /metrics`) lets through; aiohttp decodes or a client might.
SPELLINGS = [
    "/metrics", "/%6detrics", "/%6Detrics", "/%6d%65%74%72%69%63%73", "/METRICS", "/Metrics", "/MeTrIcS",
    "//metrics", "///metrics", "/./metrics", "/x/../metrics", "/%2e/metrics", "/metrics/", "/metrics?x=1",
    "/metrics;x", "/metrics%3F", "/%2fmetrics", "/metrics%00", "/metrics#x", "/%252fmetrics",
]


# Spellings a decoding or normalising backend could route to /metrics: the proxy's own rule refuses each
# (its answer, not the node's), so the config stays safe even in front of a node that did serve /metrics.
DENIED_BY_PROXY = [
    "/metrics", "/%6detrics", "/%6Detrics", "/%6d%65%74%72%69%63%73", "/METRICS", "/Metrics", "//metrics",
    "/./metrics", "/x/../metrics", "/metrics/", "/metrics?x=1", "/metrics;x", "/%2fmetrics", "/metrics%00",
]


@dataclass
class Deployment:
    node: ConfidantServer
    proxy: HAProxy


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    node = ConfidantServer(tmp_path / "data", log_path=tmp_path / "node.log", log_level="info")
    await node.start_async()
    proxy = HAProxy(tmp_path, [node.port])
    try:
        proxy.start()
        yield Deployment(node, proxy)
    finally:
        proxy.stop()
        node.stop()


async def _get(port: int, target: str) -> tuple[int, bytes, bytes]:
    """One raw request: the target goes on the wire exactly as written (no client-side normalising)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: confidant.test\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.lower(), body


async def test_no_spelling_of_metrics_reaches_metrics_from_the_public_side(deployment: Deployment) -> None:
    proxy, node = deployment.proxy.port, deployment.node.port
    deadline = time.monotonic() + 10
    while (await _get(proxy, "/healthz"))[0] != 200:  # the proxy forwards ordinary requests
        assert time.monotonic() < deadline, "haproxy never forwarded /healthz"
        await asyncio.sleep(0.05)  # polling a starting proxy, not synchronisation
    assert (await _get(proxy, "/openapi.json"))[0] == 200
    leaks = []
    for spelling in SPELLINGS:
        for port, where in ((proxy, "haproxy"), (node, "node")):
            status, _, body = await _get(port, spelling)
            if status < 400 or b"confidant_" in body:
                leaks.append((where, spelling, status))
    assert leaks == []
    for spelling in DENIED_BY_PROXY:
        status, head, _ = await _get(proxy, spelling)
        # The node stamps every answer with X-Request-Id; HAProxy's own refusal has none.
        assert status in (400, 404) and b"x-request-id" not in head, (spelling, status)
    # Prometheus' side: the separate listener on 127.0.0.1 serves the figures.
    async with aiohttp.ClientSession() as http, http.get(deployment.node.metrics_url) as resp:
        assert resp.status == 200
        assert "confidant_http_requests_total" in await resp.text()
