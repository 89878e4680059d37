"""The records custodian over HTTP against the real app: only administrators configure it, clients do not
read it, and a copy is stored only while the custodian is on, sealed to the configured key, for the current
version of one of the therapist's own vault records; every refusal is a 4xx with a stable code that
changes nothing."""

from __future__ import annotations

import os

from tests.server._kit import API, Device, b64, hex_id
from tests.server.conftest import Server

KEY, OTHER = os.urandom(32), os.urandom(32)


async def _copy(dev: Device, record: str, version: int, key: bytes = KEY, size: int = 100) -> tuple[int, str]:
    body = {"version": version, "custodian_key": b64(key), "ciphertext": b64(os.urandom(size))}
    r = await dev.call("PUT", f"{API}/custodian/copies/{record}", body)
    return r.status, r.code if r.status >= 400 else str(r.body["stored"])


async def test_configuring_reading_and_storing_copies(server: Server) -> None:
    admin = await server.admin()
    therapist = await server.therapist(admin)
    client = await server.client(therapist)
    record = hex_id()
    note = {"expected_version": 0, "ciphertext": b64(b"n")}
    await therapist.call("PUT", f"{API}/vault/records/{record}", note)

    assert (await therapist.call("GET", f"{API}/custodian")).body == {"enabled": False}  # off by default
    assert await _copy(therapist, record, 1) == (409, "conflict")  # custodian_off
    for who in (therapist, client):
        r = await who.call("PUT", f"{API}/admin/custodian", {"public_key": b64(KEY)})
        assert (r.status, r.code) == (403, "forbidden")
    assert (await client.call("GET", f"{API}/custodian")).code == "forbidden"
    r = await admin.call("PUT", f"{API}/admin/custodian", {"public_key": b64(KEY[:31])})
    assert (r.status, r.code) == (400, "invalid_field")
    r = await admin.call("PUT", f"{API}/admin/custodian", {"public_key": b64(KEY)})
    assert r.status == 200 and r.body["enabled"] and r.body["public_key"] == b64(KEY)
    assert (await therapist.call("GET", f"{API}/custodian")).body["public_key"] == b64(KEY)

    assert await _copy(client, record, 1) == (403, "forbidden")
    assert await _copy(therapist, record, 1, key=OTHER) == (409, "conflict")  # custodian_changed
    assert await _copy(therapist, record, 2) == (409, "conflict")  # not the record's version
    assert await _copy(therapist, hex_id(), 1) == (409, "conflict")  # not a record of this therapist
    assert await _copy(therapist, record, 1, size=70_000) == (400, "invalid_field")  # over the limit
    assert await _copy(therapist, record, 1) == (200, "True")
    r = await therapist.call("POST", f"{API}/custodian/copies/{record}/delete")
    assert r.status == 204

    r = await admin.call("POST", f"{API}/admin/custodian/off")
    assert r.status == 200 and r.body == {"enabled": False}
    assert await _copy(therapist, record, 1) == (409, "conflict")
