"""/readyz proves that storage can still commit a write (not only answer a read), without write load."""

from __future__ import annotations

import asyncio
import resource
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp

from server.readiness import STORAGE_WRITE_CHECK_SECONDS, ThrottledCheck
from tests.fixtures.server_proc import ConfidantServer
from tests.server._kit import API
from tests.server.conftest import Server


async def _refuse_writes(server: Server) -> None:
    """Make the database refuse every write (SQLITE_READONLY, as on a file system remounted read-only):
    the flag is set on the connection of the engine's writer thread, through its normal write queue."""
    engine = server.ctx.storage.engine  # type: ignore[attr-defined]

    def pragma(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA query_only=ON")

    await engine.write(pragma)


def _allow_writes(server: Server) -> None:
    # The writer thread can no longer run anything (even its BEGIN IMMEDIATE is refused), so the flag is
    # lifted directly on its connection while it idles on an empty queue.
    server.ctx.storage.engine.writer_connection.execute("PRAGMA query_only=OFF")  # type: ignore[attr-defined]


async def _heartbeat_at(server: Server) -> Any:
    engine = server.ctx.storage.engine  # type: ignore[attr-defined]
    return await engine.read(lambda conn: conn.execute("SELECT at FROM heartbeat").fetchone()[0])


async def test_readiness_fails_when_storage_reads_but_cannot_write(server: Server) -> None:
    admin = await server.admin()
    r = await server.http.call("GET", "/readyz")
    assert (r.status, r.body["checks"]["storage"]) == (200, "ok")
    assert await _heartbeat_at(server) == server.clock()  # readiness wrote through the normal writer

    await _refuse_writes(server)
    # What users hit: reads still work, anything that must be stored is refused.
    r = await server.http.call("POST", f"{API}/auth/challenge", {"device_id": admin.device_id})
    assert (r.status, r.code) == (503, "storage_unavailable")
    # Polled again within the interval, readiness replays its last write outcome: no write per poll.
    r = await server.http.call("GET", "/readyz")
    assert r.status == 200

    server.clock.advance(STORAGE_WRITE_CHECK_SECONDS)
    r = await server.http.call("GET", "/readyz")
    assert r.status == 503
    assert (r.body["status"], r.body["checks"]["storage"]) == ("unavailable", "unavailable")
    status = server.ctx.ops.readiness.last["storage"]
    assert status.error == "StorageUnavailable"  # the class for the operator, never a message

    _allow_writes(server)
    server.clock.advance(STORAGE_WRITE_CHECK_SECONDS)
    r = await server.http.call("GET", "/readyz")
    assert (r.status, r.body["checks"]["storage"]) == (200, "ok")
    assert await _heartbeat_at(server) == server.clock()
    r = await server.http.call("POST", f"{API}/auth/challenge", {"device_id": admin.device_id})
    assert r.status == 200


async def test_concurrent_polls_share_one_write_and_a_slow_one_is_not_repeated() -> None:
    now = [0]
    release = asyncio.Event()
    runs = 0

    async def write() -> None:
        nonlocal runs
        runs += 1
        await release.wait()

    check = ThrottledCheck(write, 5.0, lambda: now[0])
    polls = [asyncio.ensure_future(check()) for _ in range(5)]
    # A poll that gives up (the readiness timeout) does not cancel the write others wait for.
    first = polls.pop()
    await asyncio.sleep(0)  # let every poll start waiting on the one write; not a synchronisation by time
    first.cancel()
    release.set()
    await asyncio.gather(*polls)
    assert runs == 1
    await check()
    assert runs == 1  # within the interval: the outcome is replayed
    now[0] += 5000
    await check()
    assert runs == 2


async def _ready_status(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url + "/readyz") as resp:
        return resp.status, await resp.json()


async def _poll_ready(http: aiohttp.ClientSession, url: str, status: int) -> Any:
    """Poll /readyz like a load balancer until it answers ``status``; the write check reruns within 5 s."""
    deadline = time.monotonic() + STORAGE_WRITE_CHECK_SECONDS + 10
    while True:
        got, body = await _ready_status(http, url)
        if got == status:
            return body
        assert time.monotonic() < deadline, f"/readyz still {got}: {body}"
        await asyncio.sleep(0.2)  # the polling interval of a load balancer, not a synchronisation


async def test_a_full_disk_takes_a_serve_process_out_of_rotation(tmp_path: Path) -> None:
    # A real full disk: RLIMIT_FSIZE lowered on the running `confidant serve`, so SQLite's writes fail with
    # EFBIG exactly as on a full file system (Python ignores SIGXFSZ) while reads keep working.
    server = ConfidantServer(tmp_path / "data", log_path=tmp_path / "server.log", log_level="info")
    await server.start_async()
    try:
        assert server.admin_code()  # start-up output written: only the relay's own writes meet the full disk
        async with aiohttp.ClientSession() as http:
            resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
            body = await _poll_ready(http, server.url, 503)
            assert body == {"status": "unavailable", "checks": {"storage": "unavailable", "broker": "ok"}}
            async with http.get(server.url + "/healthz") as alive:
                assert alive.status == 200  # alive: restarting it would not help
            # (Recovery once writes commit again is the in-process test above: it needs no 5 s wait.)
    finally:
        server.stop()
