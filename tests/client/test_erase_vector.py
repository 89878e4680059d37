"""The erase confirmation bytes and signature (tests/vectors/erase_account.json) are what the SDK signs and
what the server verifies; the browser checks the same file (web-client/test/ending.test.js)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from client.ending import ERASE_CONTEXT, erase_message
from crypto import IdentityKeyPair
from server._verify import verify
from server.services.erasure import ERASE_CONTEXT as SERVER_CONTEXT

V = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "erase_account.json").read_text())


def test_erase_confirmation_matches_the_vector_on_both_sides() -> None:
    assert ERASE_CONTEXT == SERVER_CONTEXT == V["context"].encode()
    message = erase_message(base64.b64decode(V["nonce_b64"]), V["account_id"], V["device_id"])
    assert message.hex() == V["message"]
    identity = IdentityKeyPair.from_bytes(bytes.fromhex(V["identity_seed"]))
    assert identity.public.to_bytes().hex() == V["identity_public"]
    assert identity.sign(message).hex() == V["signature"]
    public = bytes.fromhex(V["identity_public"])
    assert verify(public, message, bytes.fromhex(V["signature"]))
    assert not verify(public, message[:-1] + b"\x00", bytes.fromhex(V["signature"]))
