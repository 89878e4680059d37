"""Discharge end to end: the therapist ends the client's link; both apps are told at once, neither can
message the other any more (the server refuses), each keeps what it already had, and only the therapist
could end it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import jsonschema
import pytest

from client.ending import discharge
from client.errors import ApiError, ClientError
from tests.e2e.conftest import TERMS, Practice, next_event

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "export.schema.json").read_text())
SERVER_EXPORT = {**SCHEMA["properties"]["server"], "$defs": SCHEMA["$defs"]}


async def test_a_therapist_discharges_a_client(practice: Practice) -> None:
    p = practice
    therapist, client = p.therapist, p.client
    await client.accept_terms(therapist.account_id)
    await client.send(therapist.account_id, "Thank you for everything.", timeout=30)
    assert [m.body for m in await therapist.receive(1)] == ["Thank you for everything."]

    # Right of access: what the server holds about each of them, and nothing of the other's.
    mine = await client.api.request("GET", "/me/export")
    jsonschema.validate(mine, SERVER_EXPORT)
    assert mine["account"]["account_id"] == client.account_id
    assert [d["device_id"] for d in mine["devices"]] == [client.device_id]
    assert [(c["therapist_id"], c["version"]) for c in mine["consents"]] == [(therapist.account_id, 1)]
    assert mine["links"][0]["label_ciphertext"] is None and mine["terms_published"] is None
    assert {e["event"] for e in mine["audit_entries"]} >= {"account_registered", "consent_accepted"}
    theirs = await therapist.api.request("GET", "/me/export")
    jsonschema.validate(theirs, SERVER_EXPORT)
    assert theirs["terms_published"]["text"] == TERMS
    assert "consent_accepted" not in {e["event"] for e in theirs["audit_entries"]}

    with pytest.raises(ApiError) as refused:  # the client cannot end it for the therapist
        await discharge(client, therapist.account_id)
    assert refused.value.code == "forbidden"

    await discharge(therapist, client.account_id)
    told = await asyncio.gather(next_event(client, "link_ended", 10), next_event(therapist, "link_ended", 10))
    assert {(e["therapist_id"], e["client_id"]) for e in told} == {(therapist.account_id, client.account_id)}
    assert await client.contacts() == [] and await therapist.contacts() == []

    for sender, to in ((client, therapist.account_id), (therapist, client.account_id)):
        with pytest.raises(ClientError):
            await sender.send(to, "are you there?", timeout=10)

    with pytest.raises(ApiError) as again:  # nothing left to end
        await discharge(therapist, client.account_id)
    assert again.value.code == "not_found"
