"""A therapist and a client exchange 100 end-to-end encrypted messages each way through a real server,
with each side going offline and coming back; nothing readable is left on the server."""

from __future__ import annotations

import asyncio
import os

import aiohttp
import pytest

from client.device import Device, Message
from client.errors import ApiError
from tests.e2e._scan import find_leaks
from tests.e2e.conftest import Practice

PER_DIRECTION = 100


def body(direction: str, index: int, salt: str) -> str:
    return f"{direction} message {index:03d} {salt}"


async def send_range(device: Device, to: str, direction: str, indices: range, salt: str) -> list[str]:
    return [await device.send(to, body(direction, i, salt), timeout=30) for i in indices]


async def queue_range(device: Device, to: str, direction: str, indices: range, salt: str) -> list[str]:
    """Queued at once, as an app writes while its outbox is busy: they go out in send_batch events."""
    ids = [device.enqueue(to, body(direction, i, salt)) for i in indices]
    await device.flush(timeout=30)
    return ids


def assert_exactly_once_in_order(got: list[Message], sent_ids: list[str], direction: str, salt: str) -> None:
    assert [m.id for m in got] == sent_ids, "every message arrives once, in the order it was sent"
    assert [m.body for m in got] == [body(direction, i, salt) for i in range(len(sent_ids))]


async def test_hundred_messages_each_way_with_offline_periods_leave_nothing_readable(
    practice: Practice,
) -> None:
    p = practice
    salt = os.urandom(8).hex()
    therapist, client = p.therapist, p.client

    with pytest.raises(ApiError) as refused:
        await client.send(therapist.account_id, "before consent", timeout=30)
    assert refused.value.code == "consent_required"
    await client.accept_terms(therapist.account_id)

    c2t: list[str] = []
    t2c: list[str] = []
    got_t: list[Message] = []
    got_c: list[Message] = []

    # both online, both talking at once
    sent = await asyncio.gather(
        send_range(client, therapist.account_id, "c2t", range(0, 20), salt),
        send_range(therapist, client.account_id, "t2c", range(0, 20), salt),
    )
    c2t += sent[0]
    t2c += sent[1]
    got_t += await therapist.receive(20, timeout=30)
    got_c += await client.receive(20, timeout=30)

    # the therapist is offline while the client queues 30; on reconnect the therapist drains them
    await therapist.close()
    c2t += await queue_range(client, therapist.account_id, "c2t", range(20, 50), salt)
    async with aiohttp.ClientSession() as http, http.get(p.server.metrics_url) as resp:
        assert 'confidant_socket_events_total{event="send_batch",outcome="ok"}' in await resp.text()
    therapist = await p.reopen(therapist)
    got_t += await therapist.receive(30, timeout=30)

    # the client is offline while the therapist sends 30
    await client.close()
    t2c += await send_range(therapist, client.account_id, "t2c", range(20, 50), salt)
    client = await p.reopen(client)
    got_c += await client.receive(30, timeout=30)

    # the rest at once, with the client's connection dropping and coming back in the middle
    async def client_side() -> list[str]:
        ids = await send_range(client, therapist.account_id, "c2t", range(50, 75), salt)
        await client.realtime.stop()
        client.realtime.start()
        ids += await send_range(client, therapist.account_id, "c2t", range(75, PER_DIRECTION), salt)
        return ids

    sent = await asyncio.gather(
        client_side(), send_range(therapist, client.account_id, "t2c", range(50, PER_DIRECTION), salt)
    )
    c2t += sent[0]
    t2c += sent[1]
    got_t += await therapist.receive(50, timeout=30)
    got_c += await client.receive(50, timeout=30)

    # a last message each way proves nothing else (no duplicate) was still queued before it
    c2t.append(await client.send(therapist.account_id, body("c2t", PER_DIRECTION, salt)))
    t2c.append(await therapist.send(client.account_id, body("t2c", PER_DIRECTION, salt)))
    got_t += await therapist.receive(1, timeout=30)
    got_c += await client.receive(1, timeout=30)

    assert_exactly_once_in_order(got_t, c2t, "c2t", salt)
    assert_exactly_once_in_order(got_c, t2c, "t2c", salt)
    assert {m.from_account for m in got_t} == {client.account_id}
    assert {m.from_account for m in got_c} == {therapist.account_id}

    for device in p.devices:
        p.remember(device)
    secrets = {
        "plaintext": [body(d, i, salt).encode() for d in ("c2t", "t2c") for i in range(PER_DIRECTION + 1)],
        "private key": p.private_keys,
        "token": [t.encode() for t in p.tokens],
        "invitation code": [c.encode() for c in p.codes],
    }
    files = [*p.server.storage_files(), p.server.log_path]
    assert p.server.db_path in files
    assert any(f.name.endswith("-wal") for f in files), "the scan covers the live WAL file"
    verbatim = ("plaintext", "invitation code")
    assert find_leaks(files, secrets, verbatim=verbatim) == []
    for device in p.devices:
        await device.close()
    assert p.server.stop() == 0, "clean shutdown on SIGTERM"
    assert find_leaks([*p.server.storage_files(), p.server.log_path], secrets, verbatim=verbatim) == []
