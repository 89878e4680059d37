"""Challenge-response login, tokens, and socket connect authentication."""

from __future__ import annotations

import base64

import pytest
import socketio

from server import limits
from tests.server._kit import API, b64, eventually, eventually_async, hex_id
from tests.server.conftest import Server


async def _challenge(server: Server, device_id: str) -> str:
    r = await server.http.call("POST", f"{API}/auth/challenge", {"device_id": device_id})
    assert r.status == 200, r.body
    nonce: str = r.body["nonce"]
    return nonce


def _sign(device, nonce: str) -> str:  # type: ignore[no-untyped-def]
    return b64(
        device.keys.sign(b"confidant-auth-v1" + base64.b64decode(nonce) + bytes.fromhex(device.device_id))
    )


async def test_forged_signature_consumes_the_nonce(server: Server) -> None:
    admin = await server.admin()
    other = await server.therapist(admin)
    nonce = await _challenge(server, admin.device_id)
    before = await server.count("tokens")
    forged = _sign(other, nonce)  # signed by another device's key
    r = await server.http.call(
        "POST", f"{API}/auth/token", {"device_id": admin.device_id, "nonce": nonce, "signature": forged}
    )
    assert (r.status, r.code) == (401, "signature_invalid")
    r = await server.http.call(
        "POST",
        f"{API}/auth/token",
        {"device_id": admin.device_id, "nonce": nonce, "signature": _sign(admin, nonce)},
    )
    assert (r.status, r.code) == (401, "challenge_invalid")  # a failed attempt burnt the nonce
    assert await server.count("tokens") == before


async def test_replayed_nonce_is_refused(server: Server) -> None:
    admin = await server.admin()
    nonce = await _challenge(server, admin.device_id)
    body = {"device_id": admin.device_id, "nonce": nonce, "signature": _sign(admin, nonce)}
    assert (await server.http.call("POST", f"{API}/auth/token", body)).status == 200
    r = await server.http.call("POST", f"{API}/auth/token", body)
    assert (r.status, r.code) == (401, "challenge_invalid")


async def test_expired_and_foreign_nonces(server: Server) -> None:
    admin = await server.admin()
    therapist = await server.therapist(admin)
    nonce = await _challenge(server, admin.device_id)
    server.clock.advance(limits.CHALLENGE_TTL_SECONDS)
    r = await server.http.call(
        "POST",
        f"{API}/auth/token",
        {"device_id": admin.device_id, "nonce": nonce, "signature": _sign(admin, nonce)},
    )
    assert r.code == "challenge_invalid"
    nonce = await _challenge(server, admin.device_id)  # issued to admin, used by therapist
    r = await server.http.call(
        "POST",
        f"{API}/auth/token",
        {"device_id": therapist.device_id, "nonce": nonce, "signature": _sign(therapist, nonce)},
    )
    assert r.code == "challenge_invalid"
    r = await server.http.call(
        "POST",
        f"{API}/auth/token",
        {"device_id": admin.device_id, "nonce": b64(bytes(32)), "signature": b64(bytes(64))},
    )
    assert r.code == "challenge_invalid"


async def test_challenge_for_unknown_device(server: Server) -> None:
    r = await server.http.call("POST", f"{API}/auth/challenge", {"device_id": hex_id()})
    assert (r.status, r.code) == (404, "not_found")
    assert await server.count("challenges") == 0


async def test_token_expiry_and_revocation(server: Server) -> None:
    admin = await server.admin()
    assert (await admin.call("GET", f"{API}/me")).status == 200
    assert (await admin.call("DELETE", f"{API}/auth/token")).status == 204
    r = await admin.call("GET", f"{API}/me")
    assert (r.status, r.code) == (401, "unauthenticated")
    await admin.login()
    server.clock.advance(server.ctx.settings.token_ttl_seconds)
    r = await admin.call("GET", f"{API}/me")
    assert (r.status, r.code) == (401, "unauthenticated")


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic abc", "Bearer " + "x" * 43, "Bearer " + "y" * 500]
)
async def test_bad_authorization_headers(server: Server, header: str) -> None:
    r = await server.http.call("GET", f"{API}/me", headers={"Authorization": header} if header else None)
    assert (r.status, r.code) == (401, "unauthenticated")


async def test_socket_connect_refused_with_error_object(server: Server) -> None:
    admin = await server.admin()
    client = socketio.AsyncClient(reconnection=False)
    errors: list[object] = []
    client.on("connect_error", handler=errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, auth={"token": "nope"}, transports=["websocket"], wait_timeout=5)
    assert errors and isinstance(errors[0], dict)
    data = errors[0]["data"]
    assert data["code"] == "unauthenticated" and data["message"] == errors[0]["message"]
    sock = await admin.connect()
    assert sock.client.connected


async def test_socket_events_refused_after_token_expiry(server: Server) -> None:
    _therapist, client = await server.pair()
    sock = await client.connect()
    server.clock.advance(server.ctx.settings.token_ttl_seconds)
    reply = await sock.call("sync", {"after": 0})
    assert reply["ok"] is False and reply["error"]["code"] == "unauthenticated"
    await eventually(lambda: not sock.client.connected)  # the server then closes the connection
    assert not sock.client.connected


async def test_a_stranger_cannot_lock_a_device_out_of_login(server: Server) -> None:
    """Version 1 counted challenges and failures per device: anyone knowing a device id could lock it out."""
    admin = await server.admin()
    for _ in range(12):  # more than version 1's per-device allowance (10 a minute)
        nonce = await _challenge(server, admin.device_id)
        forged = b64(bytes(64))
        r = await server.http.call(
            "POST", f"{API}/auth/token", {"device_id": admin.device_id, "nonce": nonce, "signature": forged}
        )
        assert (r.status, r.code) == (401, "signature_invalid")
    assert await admin.login()  # the real device still gets in


async def test_a_silent_socket_is_closed_when_its_token_expires(server: Server) -> None:
    admin = await server.admin()
    # A token that expires in a moment: the server closes the socket at expiry, without any event from it.
    server.clock.advance(server.ctx.settings.token_ttl_seconds - 1)
    sock = await admin.connect()
    await eventually(lambda: not sock.client.connected, timeout=10)


async def test_revoking_a_token_closes_its_connections_only(server: Server) -> None:
    admin = await server.admin()
    first_token = admin.token
    doomed = await admin.connect()
    await admin.login()  # a second token for the same device (another tab)
    survivor = await admin.connect()
    r = await admin.http.call("DELETE", f"{API}/auth/token", token=first_token)
    assert r.status == 204
    await eventually(lambda: not doomed.client.connected)
    assert not doomed.client.connected
    assert (await survivor.call("sync", {}))["ok"] is True


async def test_presence_follows_connections(server: Server) -> None:
    admin = await server.admin()
    broker = server.ctx.broker
    assert await broker.get_presence(admin.device_id) is None
    a = await admin.connect()
    b = await admin.connect()
    assert await broker.get_presence(admin.device_id) == server.ctx.node_id
    sio = server.ctx.sio
    await a.client.disconnect()
    await eventually(lambda: len(list(sio.manager.get_participants("/", f"device:{admin.device_id}"))) == 1)
    assert await broker.get_presence(admin.device_id) == server.ctx.node_id  # b is still connected
    await b.client.disconnect()
    await eventually(lambda: not list(sio.manager.get_participants("/", f"device:{admin.device_id}")))
    await eventually_async(lambda: broker.get_presence(admin.device_id), None)
