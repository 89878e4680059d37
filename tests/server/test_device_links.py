"""Approved linking (docs/API.md "Linking a device"): a token alone never adds a device."""

from __future__ import annotations

from crypto.certificate import AccountKeyPair
from crypto.keys import X25519KeyPair
from tests.server._kit import API, Keys, b64, link_device
from tests.server.conftest import Server


async def _request(server: Server, keys: Keys) -> str:
    r = await server.http.call(
        "POST",
        f"{API}/device-links",
        {
            "link_key": b64(X25519KeyPair.generate().public.to_bytes()),
            "device_id": keys.device_id,
            "identity_key": b64(keys.identity_public),
        },
    )
    assert r.status == 201, r.body
    link_id: str = r.body["link_id"]
    return link_id


async def test_a_token_alone_cannot_register_a_device(server: Server) -> None:
    _, client = await server.pair()
    # The thief has the client's token: offers and approves, but signs the certificate with its own key.
    thief = Keys(account=AccountKeyPair.generate(), account_id=client.account_id)
    link_id = await _request(server, thief)
    r = await client.call(
        "POST",
        f"{API}/device-links/{link_id}/offer",
        {"link_key": b64(X25519KeyPair.generate().public.to_bytes())},
    )
    assert r.status == 200 and r.body["device_id"] == thief.device_id
    r = await client.call("POST", f"{API}/device-links/{link_id}/approve", {"bundle": b64(b"junk")})
    assert r.status == 204
    before = await server.counts()
    r = await server.http.call("POST", f"{API}/devices", {"link_id": link_id, "device": thief.payload()})
    assert (r.status, r.code) == (401, "signature_invalid")
    assert r.body["error"]["details"]["field"] == "device.certificate.signature"
    assert await server.counts() == before


async def test_registration_needs_an_approval_and_the_requested_device(server: Server) -> None:
    _, client = await server.pair()
    keys = client.keys.linked()
    link_id = await _request(server, keys)
    r = await server.http.call("POST", f"{API}/devices", {"link_id": link_id, "device": keys.payload()})
    assert (r.status, r.code) == (403, "forbidden")  # nobody approved yet
    other = client.keys.linked()
    link_id = await link_device(server.http, client, keys)
    r = await server.http.call("POST", f"{API}/devices", {"link_id": link_id, "device": other.payload()})
    assert (r.status, r.code) == (403, "forbidden")  # a different device than the one that asked
    r = await server.http.call("POST", f"{API}/devices", {"link_id": link_id, "device": keys.payload()})
    assert r.status == 201


async def test_only_the_offering_device_approves_and_only_once(server: Server) -> None:
    therapist, client = await server.pair()
    keys = client.keys.linked()
    link_id = await _request(server, keys)
    offer = {"link_key": b64(X25519KeyPair.generate().public.to_bytes())}
    assert (await client.call("POST", f"{API}/device-links/{link_id}/offer", offer)).status == 200
    again = await therapist.call("POST", f"{API}/device-links/{link_id}/offer", offer)
    assert (again.status, again.code) == (409, "conflict")
    r = await therapist.call("POST", f"{API}/device-links/{link_id}/approve", {"bundle": b64(b"x")})
    assert (r.status, r.code) == (403, "forbidden")
    state = await server.http.call("GET", f"{API}/device-links/{link_id}")
    assert state.body["state"] == "offered" and state.body["account_id"] == client.account_id
    assert (await server.http.call("DELETE", f"{API}/device-links/{link_id}")).status == 204
    gone = await server.http.call("GET", f"{API}/device-links/{link_id}")
    assert (gone.status, gone.code) == (404, "not_found")


async def test_a_device_removes_itself_and_its_token_stops_working(server: Server) -> None:
    _, client = await server.pair()
    r = await client.call("DELETE", f"{API}/devices/{client.device_id}")
    assert r.status == 204
    assert (await client.call("GET", f"{API}/me")).code == "unauthenticated"
