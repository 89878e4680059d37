"""kill -9 of the server in the middle of a stream of sends: nothing acknowledged is lost, nothing arrives
twice, and sends that were never acknowledged are retried from the device's outbox under their original
id: by the running app after the server is back, and by the app restarted from its keystore."""

from __future__ import annotations

import asyncio

from client.device import Device
from tests.e2e.conftest import PASSPHRASE, Practice

STREAM = 40
KILL_AFTER_ACKS = 15


async def stream_until_kill(p: Practice, client: Device, to: str, label: str) -> tuple[list[str], list[str]]:
    """Queue a stream, SIGKILL the server after some acks; returns (all ids, ids acknowledged before)."""
    ids = [client.enqueue(to, f"{label} {i:03d}") for i in range(STREAM)]
    pending = [client.outbox.result(i) for i in ids]
    await asyncio.wait_for(pending[KILL_AFTER_ACKS - 1], 30)
    p.server.kill()  # no shutdown: whatever is in flight now stays in flight
    acked = [i for i, fut in zip(ids, pending, strict=True) if fut.done() and fut.exception() is None]
    assert len(acked) >= KILL_AFTER_ACKS
    assert client.state.outbox, "some sends were still unacknowledged when the server died"
    return ids, acked


async def assert_stream_delivered(therapist: Device, ids: list[str], acked: list[str], label: str) -> None:
    got = await therapist.receive(STREAM, timeout=60)
    assert [m.id for m in got] == ids, "each message once, in order, under the id it was first sent with"
    assert [m.body for m in got] == [f"{label} {i:03d}" for i in range(STREAM)]
    assert set(acked) <= {m.id for m in got}


async def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(practice: Practice) -> None:
    p = practice
    therapist, client = p.therapist, p.client
    await client.accept_terms(therapist.account_id)

    # 1. the server dies and comes back; both apps keep running and reconnect on their own
    ids, acked = await stream_until_kill(p, client, therapist.account_id, "first")
    await p.server.start_async()
    await client.flush(timeout=60)
    await assert_stream_delivered(therapist, ids, acked, "first")

    # 2. the server dies and the client app dies with it; the app restarts from its keystore
    ids, acked = await stream_until_kill(p, client, therapist.account_id, "second")
    p.remember(client)
    await client.close()
    await p.server.start_async()
    client = p.remember(await Device.open(client.keystore_path, PASSPHRASE))
    await assert_stream_delivered(therapist, ids, acked, "second")
    await client.flush(timeout=30)
    assert not client.state.outbox

    # nothing else is queued behind: the next message is the very next one the therapist sees
    last = await client.send(therapist.account_id, "after the crashes", timeout=30)
    assert [m.id for m in await therapist.receive(1, timeout=30)] == [last]
