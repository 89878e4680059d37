"""The database refuses writes on every node (the disk is full) while a client streams messages: a clear
``storage_unavailable`` error, nothing acknowledged that was not stored, and every acknowledged message
delivered once the disk has room again.

"Disk full" is made real with RLIMIT_FSIZE lowered on the running node processes: SQLite's writes beyond the
limit fail with EFBIG exactly as on a full disk (Python ignores SIGXFSZ), reads keep working.
"""

from __future__ import annotations

import asyncio
import resource

import aiohttp
import pytest

from tests.cluster.conftest import Cluster, eventually
from tests.cluster.test_faults import _assert_exactly_once, _stream

_UNLIMITED = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)


def _set_file_size_limit(cluster: Cluster, limit: tuple[int, int]) -> None:
    for node in cluster.nodes:
        resource.prlimit(node.pid, resource.RLIMIT_FSIZE, limit)


async def _challenge_status(url: str, device_id: str) -> tuple[int, str]:
    # A login challenge is stored before it is answered: the smallest write a device can ask for.
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/api/v1/auth/challenge", json={"device_id": device_id}) as resp,
    ):
        body = await resp.json()
        return resp.status, str(body.get("error", {}).get("code", ""))


@pytest.mark.slow
async def test_writes_refused_everywhere_then_back_loses_nothing(cluster: Cluster) -> None:
    therapist = await cluster.therapist(node=1)
    client = await cluster.client(node=0, therapist=therapist)
    acked: list[str] = []
    restored = asyncio.Event()
    stream = asyncio.ensure_future(_stream(client, therapist.account_id, "client", acked, until=restored))
    await eventually(lambda: len(acked) >= 10, what="sends acknowledged before the disk filled up")

    _set_file_size_limit(cluster, (1, resource.RLIM_INFINITY))
    try:
        for node in cluster.nodes:
            assert await _challenge_status(node.url, client.device_id) == (503, "storage_unavailable")
        before = len(acked)
        # The SDK's queued send meets the same refusal and keeps retrying: nothing new is acknowledged.
        assert await _challenge_status(cluster.url(0), client.device_id) == (503, "storage_unavailable")
        assert len(acked) <= before + 1  # at most the one already stored when the limit was lowered
    finally:
        _set_file_size_limit(cluster, _UNLIMITED)

    await eventually(lambda: len(acked) >= before + 10, what="sends acknowledged after the disk had room")
    restored.set()
    await asyncio.wait_for(stream, 60)
    _assert_exactly_once(await therapist.receive(len(acked), timeout=30), acked)
