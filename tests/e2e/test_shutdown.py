"""SIGTERM on `confidant serve` with devices connected and a stream of sends in flight: the node tells the
devices (``server_shutdown``), closes their connections, lets in-flight writes finish and exits within a
few seconds; the devices reconnect on their own once it is back, and nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import json
import time

from client.device import Device
from tests.e2e.conftest import Practice

STREAM = 40
STOP_AFTER_ACKS = 10
EXIT_WITHIN_SECONDS = 5.0  # the whole shutdown is bounded by server.limits.SHUTDOWN_*


async def _next_event(device: Device, name: str, timeout: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        event = await asyncio.wait_for(device.events.get(), max(0.01, deadline - time.monotonic()))
        if isinstance(event, dict) and event.get("event") == name:
            return event


async def test_sigterm_tells_devices_finishes_writes_and_exits_quickly(practice: Practice) -> None:
    p = practice
    therapist, client = p.therapist, p.client
    await client.accept_terms(therapist.account_id)

    ids = [client.enqueue(therapist.account_id, f"stream {i:03d}") for i in range(STREAM)]
    pending = [client.outbox.result(i) for i in ids]
    await asyncio.wait_for(pending[STOP_AFTER_ACKS - 1], 30)
    started = time.monotonic()
    code = await asyncio.to_thread(p.server.stop, 30.0)  # SIGTERM; SIGKILL only after 30 s
    took = time.monotonic() - started
    assert code == 0, p.server.log_tail()
    assert took < EXIT_WITHIN_SECONDS, f"stopping took {took:.1f}s"
    acked = [i for i, fut in zip(ids, pending, strict=True) if fut.done() and fut.exception() is None]
    assert len(acked) >= STOP_AFTER_ACKS

    for device in (therapist, client):  # told before the connection closed, not left to a ping timeout
        notice = await _next_event(device, "server_shutdown")
        assert isinstance(notice.get("reconnect_after_ms"), int)
    logs = [json.loads(line) for line in p.server.log_text().splitlines() if line.startswith("{")]
    drained = [line for line in logs if line["msg"] == "connections closed for shutdown"]
    assert drained and drained[-1]["connections"] >= 2 and drained[-1]["inflight_finished"] is True
    assert not [line for line in logs if line["level"] in ("error", "critical")]

    await p.server.start_async()  # the same node back: the devices reconnect by themselves
    await client.flush(timeout=60)
    got = await therapist.receive(STREAM, timeout=60)
    assert [m.id for m in got] == ids, "each message once, in order, acknowledged ones included"
    assert set(acked) <= {m.id for m in got}
