"""Refusals reach SDK users as typed errors with the server's stable code, sentence and details."""

from __future__ import annotations

import pytest

from client._keys import device_payload
from client.api import ApiClient
from client.errors import ApiError
from crypto import IdentityKeyPair, SignedPreKeyPair, generate_one_time_prekeys
from tests.e2e.conftest import Practice


def fresh_device() -> dict[str, object]:
    identity = IdentityKeyPair.generate()
    return device_payload(identity, SignedPreKeyPair.generate(identity, 1), generate_one_time_prekeys(1, 3))


async def test_refusals_carry_code_message_and_details(practice: Practice) -> None:
    p = practice
    client, therapist = p.client, p.therapist

    with pytest.raises(ApiError) as unknown_field:
        await client.api.request("POST", "/messages/ack", {"up_to": 0, "surprise": True})
    assert (unknown_field.value.code, unknown_field.value.status) == ("bad_request", 400)
    assert unknown_field.value.message

    with pytest.raises(ApiError) as consent:
        await client.send(therapist.account_id, "hello?", timeout=30)
    assert consent.value.code == "consent_required"
    assert consent.value.details.get("therapist_id") == therapist.account_id

    async with ApiClient(p.server.url) as anonymous:
        with pytest.raises(ApiError) as used:
            await anonymous.create_account(
                p.codes[2],
                {"account_id": "00" * 16, "account_key": ""},
                {"identity_key": "", "signed_prekey": {}, "one_time_prekeys": []},
            )
        assert used.value.code in {"invitation_invalid", "invalid_field"}
        with pytest.raises(ApiError) as unauthenticated:
            await anonymous.me()
        assert unauthenticated.value.code == "unauthenticated"
