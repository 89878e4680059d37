"""Prekeys: upload, count, claim (oldest first, atomic under concurrency), prekeys_low, rotation."""

from __future__ import annotations

import asyncio

from crypto.keys import SignedPreKeyPair, generate_one_time_prekeys
from server import limits
from tests.server._kit import API, b64
from tests.server.conftest import Server


def _prekeys(start: int, count: int) -> list[dict[str, object]]:
    return [
        {"id": k.key_id, "public": b64(k.public_part().public.to_bytes())}
        for k in generate_one_time_prekeys(start, count)
    ]


async def test_upload_count_and_conflicts(server: Server) -> None:
    therapist, _ = await server.pair()
    assert (await therapist.call("GET", f"{API}/keys/count")).body == {"one_time_prekeys": 20}
    r = await therapist.call("POST", f"{API}/keys/one-time-prekeys", {"prekeys": _prekeys(100, 50)})
    assert r.body == {"count": 70}
    r = await therapist.call("POST", f"{API}/keys/one-time-prekeys", {"prekeys": _prekeys(140, 5)})
    assert (r.status, r.code) == (409, "conflict")
    r = await therapist.call("POST", f"{API}/keys/one-time-prekeys", {"prekeys": _prekeys(1000, 101)})
    assert (r.status, r.code) == (400, "invalid_field")
    assert (await therapist.call("GET", f"{API}/keys/count")).body == {"one_time_prekeys": 70}


async def test_stored_prekeys_are_capped(server: Server) -> None:
    therapist, _ = await server.pair()
    for start in range(1000, 1000 + 9 * 100 + 1, 100):
        r = await therapist.call("POST", f"{API}/keys/one-time-prekeys", {"prekeys": _prekeys(start, 100)})
        if r.status != 200:
            break
    assert (r.status, r.code) == (409, "conflict")
    assert r.body["error"]["details"]["limit"] == limits.MAX_PREKEYS_STORED
    count = (await therapist.call("GET", f"{API}/keys/count")).body["one_time_prekeys"]
    assert count <= limits.MAX_PREKEYS_STORED


async def test_bundles_claim_oldest_first_and_signal_low(server: Server) -> None:
    therapist, client = await server.pair()
    t_sock = await therapist.connect()
    claimed = []
    for _ in range(11):
        r = await client.call("GET", f"{API}/accounts/{therapist.account_id}/bundles")
        [bundle] = r.body["bundles"]
        assert bundle["device_id"] == therapist.device_id
        assert bundle["identity_key"] == b64(therapist.keys.identity_public)
        claimed.append(bundle["one_time_prekey"]["id"])
    assert claimed == list(range(1, 12))  # upload order
    low = await t_sock.next("prekeys_low")
    assert low == {"count": 9}


async def test_concurrent_claims_never_share_a_key(server: Server) -> None:
    therapist, client = await server.pair()
    results = await asyncio.gather(
        *(client.call("GET", f"{API}/devices/{therapist.device_id}/bundle") for _ in range(30))
    )
    ids = [r.body["one_time_prekey"]["id"] for r in results if r.body["one_time_prekey"] is not None]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert sum(r.body["one_time_prekey"] is None for r in results) == 10


async def test_own_bundles_exclude_the_caller(server: Server) -> None:
    _, client = await server.pair()
    second = await server.add_device(client)
    r = await client.call("GET", f"{API}/accounts/{client.account_id}/bundles")
    assert [b["device_id"] for b in r.body["bundles"]] == [second.device_id]


async def test_signed_prekey_rotation(server: Server) -> None:
    therapist, client = await server.pair()
    new = SignedPreKeyPair.generate(therapist.keys.identity, 2).public_part()
    body = {"id": 2, "public": b64(new.public.to_bytes()), "signature": b64(new.signature)}
    bad = dict(
        body, signature=b64(SignedPreKeyPair.generate(client.keys.identity, 2).public_part().signature)
    )
    r = await therapist.call("PUT", f"{API}/keys/signed-prekey", bad)
    assert (r.status, r.code) == (401, "signature_invalid")
    r = await client.call("GET", f"{API}/devices/{therapist.device_id}/bundle")
    assert r.body["signed_prekey"]["id"] == 1
    assert (await therapist.call("PUT", f"{API}/keys/signed-prekey", body)).status == 204
    r = await client.call("GET", f"{API}/devices/{therapist.device_id}/bundle")
    assert r.body["signed_prekey"] == body


async def test_prekeys_low_on_connect(server: Server) -> None:
    admin = await server.admin()
    from tests.server._kit import Keys

    therapist = await server.redeem(await server.invite(admin, "therapist"), Keys(prekeys=3))
    sock = await therapist.connect()
    assert await sock.next("prekeys_low") == {"count": 3}


async def test_nobody_can_drain_a_devices_one_time_prekeys(server: Server) -> None:
    therapist, client = await server.pair()
    r = await therapist.call("POST", f"{API}/keys/one-time-prekeys", {"prekeys": _prekeys(100, 50)})
    assert r.body == {"count": 70}
    limit = limits.RATE_OTPK_CLAIM_PER_PAIR[0]
    got = []
    for _ in range(limit + 5):
        r = await client.call("GET", f"{API}/devices/{therapist.device_id}/bundle")
        assert r.status == 200, r.body
        assert r.body["certificate"]["signature"]  # every bundle still carries the certificate
        got.append(r.body["one_time_prekey"])
    assert all(g is not None for g in got[:limit]) and got[limit:] == [None] * 5
    assert (await therapist.call("GET", f"{API}/keys/count")).body == {"one_time_prekeys": 70 - limit}
    ids = (await therapist.call("GET", f"{API}/keys/one-time-prekeys")).body["ids"]
    assert ids == list(range(100, 150))  # oldest first: 1..20 were claimed


async def test_bundle_fetches_are_limited_per_requester(server: Server) -> None:
    therapist, client = await server.pair()
    for _ in range(limits.RATE_BUNDLE_PER_DEVICE[0]):
        assert (await client.call("GET", f"{API}/accounts/{therapist.account_id}/bundles")).status == 200
    r = await client.call("GET", f"{API}/accounts/{therapist.account_id}/bundles")
    assert (r.status, r.code) == (429, "rate_limited")
    # Another requester is not affected.
    assert (await therapist.call("GET", f"{API}/accounts/{client.account_id}/bundles")).status == 200


async def test_bundles_need_consent_between_therapist_and_client(server: Server) -> None:
    therapist = await server.therapist()
    client = await server.client(therapist)
    before = await server.count("one_time_prekeys")
    r = await client.call("GET", f"{API}/accounts/{therapist.account_id}/bundles")
    assert (r.status, r.code) == (403, "consent_required")
    r = await therapist.call("GET", f"{API}/devices/{client.device_id}/bundle")
    assert r.status in (403, 404)
    assert await server.count("one_time_prekeys") == before
    await server.publish_terms(therapist)
    await server.consent(client, therapist)
    assert (await client.call("GET", f"{API}/accounts/{therapist.account_id}/bundles")).status == 200
