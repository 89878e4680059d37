"""The vault over HTTP against the real app and a real SQLite file: versioned writes with 409 on a stale
version, reads, changes since a position, the index, deletion, the wake-up to the account's other device,
limits, isolation between accounts, and the recovery backup (anonymous fetch, wrong key, rate limit)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from typing import Any

import pytest

from server import limits
from tests.server._kit import API, Device, Keys, b64, hex_id
from tests.server.conftest import Server


def _record_path(record_id: str) -> str:
    return f"{API}/vault/records/{record_id}"


async def _put(dev: Device, record_id: str, data: bytes, expected: int) -> Any:
    return await dev.call(
        "PUT", _record_path(record_id), {"expected_version": expected, "ciphertext": b64(data)}
    )


async def _listen(dev: Device) -> asyncio.Queue[Any]:
    sock = await dev.connect()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    sock.client.on("vault_changed", handler=queue.put)
    return queue


async def test_two_devices_share_the_vault_and_a_stale_write_gets_409(server: Server) -> None:
    therapist = await server.therapist()
    second = await server.add_device(therapist)
    wake = await _listen(second)
    record = hex_id()

    r = await _put(therapist, record, b"sealed-v1", 0)
    assert r.status == 200, r.body
    assert (r.body["version"], r.body["seq"], r.body["size"]) == (1, 1, 9)
    assert await asyncio.wait_for(wake.get(), 5) == {"position": 1}  # the position only, nothing else

    r = await second.call("GET", _record_path(record))
    assert r.status == 200 and base64.b64decode(r.body["ciphertext"]) == b"sealed-v1"

    # Both devices edit version 1: the first write wins, the second is refused and told the current version.
    assert (await _put(second, record, b"sealed-v2-second", 1)).status == 200
    r = await _put(therapist, record, b"sealed-v2-first", 1)
    assert r.status == 409 and r.code == "conflict" and r.body["error"]["details"]["current_version"] == 2
    r = await therapist.call("GET", _record_path(record))
    assert base64.b64decode(r.body["ciphertext"]) == b"sealed-v2-second" and r.body["version"] == 2


async def test_changes_index_and_delete(server: Server) -> None:
    therapist = await server.therapist()
    a, b = hex_id(), hex_id()
    await _put(therapist, a, b"a", 0)
    await _put(therapist, b, b"b", 0)
    r = await therapist.call("GET", f"{API}/vault?after=1")
    assert r.status == 200 and r.body["position"] == 2 and not r.body["more"]
    assert [x["record_id"] for x in r.body["records"]] == [b]
    r = await therapist.call("GET", f"{API}/vault?after=0&limit=1")
    assert [x["record_id"] for x in r.body["records"]] == [a] and r.body["more"]

    r = await therapist.call("POST", f"{_record_path(a)}/delete", {"expected_version": 2})
    assert r.status == 409 and r.body["error"]["details"]["current_version"] == 1
    r = await therapist.call("POST", f"{_record_path(a)}/delete", {"expected_version": 1})
    assert r.status == 200 and r.body == {"position": 3}
    assert (await therapist.call("GET", _record_path(a))).status == 404
    assert await server.count("vault_records") == 1  # the ciphertext is gone from the server
    r = await therapist.call("GET", f"{API}/vault/index")
    assert [(x["record_id"], x["version"]) for x in r.body["records"]] == [(b, 1)]
    assert "ciphertext" not in r.body["records"][0] and r.body["max_records"] == limits.MAX_VAULT_RECORDS


async def test_another_account_never_sees_the_vault(server: Server) -> None:
    therapist, client = await server.pair()
    record = hex_id()
    await _put(therapist, record, b"note", 0)
    assert (await client.call("GET", _record_path(record))).status == 404
    r = await client.call("GET", f"{API}/vault")
    assert r.body["records"] == [] and r.body["position"] == 0
    # The same record id in the client's vault is a different record.
    assert (await _put(client, record, b"mine", 0)).status == 200
    r = await therapist.call("GET", _record_path(record))
    assert base64.b64decode(r.body["ciphertext"]) == b"note"
    assert (await server.http.call("GET", _record_path(record))).status == 401


async def test_bad_input_is_refused_and_changes_nothing(server: Server) -> None:
    therapist = await server.therapist()
    record = hex_id()
    too_big = os.urandom(limits.MAX_VAULT_RECORD_BYTES + 1)
    r = await _put(therapist, record, too_big, 0)
    assert r.status in (400, 413) and r.code in ("payload_too_large", "invalid_field")
    for body in (
        {"expected_version": 0, "ciphertext": "not base64!"},
        {"expected_version": -1, "ciphertext": b64(b"x")},
        {"expected_version": 0, "ciphertext": ""},
        {"expected_version": 0},
        {"expected_version": 0, "ciphertext": b64(b"x"), "kind": "note"},
    ):
        r = await therapist.call("PUT", _record_path(record), body)
        assert r.status == 400 and r.code in ("invalid_field", "bad_request"), (body, r.body)
    assert (await therapist.call("PUT", f"{API}/vault/records/NOT-HEX", {})).status == 404
    assert (await therapist.call("POST", f"{_record_path(record)}/delete", {})).code == "invalid_field"
    assert (await therapist.call("GET", f"{API}/vault?after=-1")).code == "invalid_field"
    assert (
        await therapist.call("GET", f"{API}/vault?limit={limits.MAX_VAULT_PAGE + 1}")
    ).code == "invalid_field"
    assert await server.count("vault_records") == 0


async def test_the_record_limit_gives_quota_exceeded(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    therapist = await server.therapist()
    # The service reads the limit at each call; a small one keeps the test fast (the store's own contract
    # test covers the count under racing creations).
    monkeypatch.setattr(limits, "MAX_VAULT_RECORDS", 3)
    for _ in range(3):
        assert (await _put(therapist, hex_id(), b"x", 0)).status == 200
    r = await _put(therapist, hex_id(), b"one too many", 0)
    assert (
        r.status == 413
        and r.code == "quota_exceeded"
        and r.body["error"]["details"] == {"records": 3, "limit": 3}
    )
    assert await server.count("vault_records") == 3


async def test_recovery_backup_is_fetched_only_with_the_right_authenticator(server: Server) -> None:
    therapist = await server.therapist()
    lookup, authenticator = hex_id(), os.urandom(32)
    verifier = hashlib.sha256(authenticator).digest()
    assert (await therapist.call("GET", f"{API}/recovery")).status == 404
    r = await therapist.call(
        "PUT",
        f"{API}/recovery",
        {"lookup_id": lookup, "verifier": b64(verifier), "ciphertext": b64(b"sealed")},
    )
    assert r.status == 200, r.body
    assert (await therapist.call("GET", f"{API}/recovery")).body == r.body

    fetch = f"{API}/recovery/fetch"
    r = await server.http.call("POST", fetch, {"lookup_id": lookup, "authenticator": b64(authenticator)})
    assert r.status == 200 and r.body["account_id"] == therapist.account_id
    assert base64.b64decode(r.body["ciphertext"]) == b"sealed"
    wrong = await server.http.call("POST", fetch, {"lookup_id": lookup, "authenticator": b64(os.urandom(32))})
    unknown = await server.http.call(
        "POST", fetch, {"lookup_id": hex_id(), "authenticator": b64(authenticator)}
    )
    # A wrong key and an unknown one look the same: nothing is revealed about which it was.
    assert wrong.status == unknown.status == 404 and wrong.body == unknown.body
    assert "ciphertext" not in str(wrong.body)
    # Tries against one backup are limited, whoever makes them.
    statuses = [
        (
            await server.http.call("POST", fetch, {"lookup_id": lookup, "authenticator": b64(os.urandom(32))})
        ).status
        for _ in range(limits.RATE_RECOVERY_PER_LOOKUP[0])
    ]
    assert statuses[-1] == 429 and 404 in statuses
    r = await server.http.call("POST", fetch, {"lookup_id": lookup, "authenticator": b64(authenticator)})
    assert r.status == 429  # even the right key waits: the limit is per backup


async def test_a_device_is_recreated_only_with_the_recovery_key_and_the_account_key(server: Server) -> None:
    """After losing every device: the recovery authenticator plus a certificate signed by the account key on
    record add a device; a stolen token, a wrong key or another account key add nothing."""
    therapist = await server.therapist()
    lookup, authenticator = hex_id(), os.urandom(32)
    r = await therapist.call(
        "PUT",
        f"{API}/recovery",
        {
            "lookup_id": lookup,
            "verifier": b64(hashlib.sha256(authenticator).digest()),
            "ciphertext": b64(b"x"),
        },
    )
    assert r.status == 200, r.body
    restore = f"{API}/recovery/device"

    def body(keys: Keys, auth: bytes = authenticator) -> dict[str, Any]:
        return {"lookup_id": lookup, "authenticator": b64(auth), "device": keys.payload()}

    # A certificate from a different account key (someone who holds a stolen token, not the account key).
    forged = Keys(account_id=therapist.account_id)
    r = await server.http.call("POST", restore, body(forged), token=therapist.token)
    assert r.status == 401 and r.code == "signature_invalid", r.body
    wrong = await server.http.call("POST", restore, body(therapist.keys.linked(), os.urandom(32)))
    assert wrong.status == 404 and wrong.code == "not_found"
    replayed = await server.http.call("POST", restore, body(therapist.keys))  # an existing device id again
    assert replayed.status == 409
    me = await therapist.call("GET", f"{API}/me")
    assert [d["device_id"] for d in me.body["devices"]] == [therapist.device_id]

    restored = therapist.keys.linked()
    r = await server.http.call("POST", restore, body(restored))
    assert r.status == 201, r.body
    assert r.body == {
        "account_id": therapist.account_id,
        "device_id": restored.device_id,
        "role": "therapist",
    }
    device = Device(server.http, restored, therapist.account_id, restored.device_id, "therapist")
    await device.login()  # a device like any other: it signs in with its own identity key
    me = await device.call("GET", f"{API}/me")
    assert {d["device_id"] for d in me.body["devices"]} == {therapist.device_id, restored.device_id}
    # Restores count against the same limits as fetches: a backup cannot be hammered through this route.
    statuses = [
        (await server.http.call("POST", restore, body(therapist.keys.linked(), os.urandom(32)))).status
        for _ in range(limits.RATE_RECOVERY_PER_LOOKUP[0])
    ]
    assert statuses[-1] == 429
