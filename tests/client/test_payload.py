"""The plaintext payload format inside every message (docs/SDK.md)."""

from __future__ import annotations

import json

import pytest

from client.payload import Payload, PayloadError


@pytest.mark.parametrize("body", ["héllo, 👋", b"\x00\xffbinary"])
def test_round_trip(body: str | bytes) -> None:
    p = Payload(body, 1_700_000_000_000, "ab" * 16, "cd" * 16)
    assert Payload.decode(p.encode()) == p


def test_documented_shape() -> None:
    doc = json.loads(Payload("hi", 5, "ab" * 16, "cd" * 16).encode())
    assert doc == {"v": 2, "id": "cd" * 16, "type": "text", "body": "hi", "sent_at": 5, "to": "ab" * 16}


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff",
        b"[]",
        b'{"v": 1, "type": "text", "body": "x", "sent_at": 1}',
        b'{"v": 2, "type": "text", "body": "x", "sent_at": 1}',
        b'{"v": 2, "id": "short", "type": "text", "body": "x", "sent_at": 1}',
        b'{"v": 2, "id": "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", "type": "video", "body": "x", "sent_at": 1}',
    ],
)
def test_garbage_is_refused(raw: bytes) -> None:
    with pytest.raises(PayloadError):
        Payload.decode(raw)
