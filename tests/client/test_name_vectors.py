"""The name vectors (tests/vectors/names.json), shared with the browser (web-client/test/names.test.js)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from client.names import InvalidName, Profile, check_name
from client.payload import Payload, PayloadError
from client.vault import _encode
from crypto.limits import MAX_NAME_CHARS

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "names.json").read_text(encoding="utf-8"))


def test_the_limit_is_the_one_in_the_vectors() -> None:
    assert VECTORS["max_name_chars"] == MAX_NAME_CHARS


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_a_display_name_encodes_to_the_exact_payload(case: dict[str, Any]) -> None:
    profile = Profile(case["display_name"])
    encoded = Payload(profile, VECTORS["sent_at"], VECTORS["to"], VECTORS["id"]).encode()
    assert encoded.decode() == case["payload"]
    assert Payload.decode(encoded).body == Profile(case["display_name"])


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_an_invalid_name_is_refused_when_sending(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidName):
        check_name(case["display_name"])
    with pytest.raises(InvalidName):
        Payload(Profile(case["display_name"]), 1, VECTORS["to"], VECTORS["id"]).encode()


@pytest.mark.parametrize("case", VECTORS["refused_payloads"], ids=lambda c: c["name"])
def test_a_bad_profile_payload_is_dropped_by_the_receiver(case: dict[str, Any]) -> None:
    with pytest.raises(PayloadError):
        Payload.decode(case["payload"].encode())


@pytest.mark.parametrize("case", VECTORS["records"], ids=lambda c: c["name"])
def test_name_records_encode_as_compact_json(case: dict[str, Any]) -> None:
    assert _encode(case["body"]).decode() == case["body_utf8"]
