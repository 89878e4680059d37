"""Token revocation and one-time prekey exhaustion, as a device experiences them."""

from __future__ import annotations

import asyncio

from client.device import Device
from tests.e2e.conftest import Practice


async def next_event(device: Device, name: str, timeout: float = 30) -> dict[str, object]:
    async def wait() -> dict[str, object]:
        while True:
            event = await device.events.get()
            if isinstance(event, dict) and event.get("event") == name:
                return event

    return await asyncio.wait_for(wait(), timeout)


async def test_a_revoked_token_is_replaced_by_a_new_login_transparently(practice: Practice) -> None:
    p = practice
    client, therapist = p.client, p.therapist
    await client.accept_terms(therapist.account_id)

    # over the socket: the reconnect is refused as unauthenticated, the device logs in again and resumes
    revoked = client.api.token
    await client.api.logout()
    await client.realtime.stop()
    client.realtime.start()
    await client.realtime.wait_connected(30)
    assert client.api.token and client.api.token != revoked
    p.remember(client)
    message_id = await therapist.send(client.account_id, "still reachable", timeout=30)
    assert [m.id for m in await client.receive(1, timeout=30)] == [message_id]

    # over HTTP: the call is refused as unauthenticated, the device logs in again and retries it
    revoked = client.api.token
    await client.api.logout()
    contacts = await client.contacts()
    assert [c.account_id for c in contacts] == [therapist.account_id]
    assert client.api.token and client.api.token != revoked
    p.remember(client)


async def test_draining_one_time_prekeys_makes_the_device_upload_more(practice: Practice) -> None:
    p = practice
    client, therapist = p.client, p.therapist
    await client.accept_terms(therapist.account_id)
    start = await therapist.api.prekey_count()
    for _ in range(start - 9):  # each fetch claims one prekey; the last one leaves 9, below the mark of 10
        await client.api.device_bundle(therapist.device_id)
    event = await next_event(therapist, "prekeys_low")
    assert int(str(event["count"])) < 10
    assert await therapist.api.prekey_count() >= 100, "the device topped its one-time prekeys up"
    assert len(therapist.state.one_time_prekeys) >= 100, "and kept their secrets"

    # a session started from a freshly uploaded prekey works
    client.book.drop(therapist.device_id)
    message_id = await client.send(therapist.account_id, "after the top-up", timeout=30)
    assert [m.id for m in await therapist.receive(1, timeout=30)] == [message_id]
