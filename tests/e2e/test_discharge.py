"""Discharge end to end: the therapist ends the client's link; both apps are told at once, neither can
message the other any more (the server refuses), each keeps what it already had, and only the therapist
could end it."""

from __future__ import annotations

import asyncio

import pytest

from client.device import Device
from client.ending import discharge
from client.errors import ApiError, ClientError
from tests.e2e.conftest import Practice


async def _event(device: Device, name: str, timeout: float = 10.0) -> dict[str, object]:
    async def wait() -> dict[str, object]:
        while True:
            event = await device.events.get()
            if event.get("event") == name:
                return event

    return await asyncio.wait_for(wait(), timeout)


async def test_a_therapist_discharges_a_client(practice: Practice) -> None:
    p = practice
    therapist, client = p.therapist, p.client
    await client.accept_terms(therapist.account_id)
    await client.send(therapist.account_id, "Thank you for everything.", timeout=30)
    assert [m.body for m in await therapist.receive(1)] == ["Thank you for everything."]

    with pytest.raises(ApiError) as refused:  # the client cannot end it for the therapist
        await discharge(client, therapist.account_id)
    assert refused.value.code == "forbidden"

    await discharge(therapist, client.account_id)
    told = await asyncio.gather(_event(client, "link_ended"), _event(therapist, "link_ended"))
    assert {(e["therapist_id"], e["client_id"]) for e in told} == {(therapist.account_id, client.account_id)}
    assert await client.contacts() == [] and await therapist.contacts() == []

    for sender, to in ((client, therapist.account_id), (therapist, client.account_id)):
        with pytest.raises(ClientError):
            await sender.send(to, "are you there?", timeout=10)

    with pytest.raises(ApiError) as again:  # nothing left to end
        await discharge(therapist, client.account_id)
    assert again.value.code == "not_found"
