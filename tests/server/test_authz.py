"""Authorization matrix: every endpoint and socket event x {anonymous, client, other client, therapist,
other therapist, admin}. "client" and "therapist" are linked (with consent); the "other" pair is linked
to each other only. Each row states the status every caller gets."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import socketio

from crypto.keys import SignedPreKeyPair
from tests.server._kit import API, Device, b64
from tests.server.conftest import Server

ACTORS = ("anonymous", "client", "other_client", "therapist", "other_therapist", "admin")


@dataclass
class World:
    server: Server
    admin: Device
    therapist: Device
    client: Device
    other_therapist: Device
    other_client: Device

    def actor(self, name: str) -> Device | None:
        return None if name == "anonymous" else getattr(self, name)


async def _world(server: Server) -> World:
    admin = await server.admin()
    therapist = await server.therapist(admin)
    client = await server.client(therapist)
    await server.publish_terms(therapist)
    await server.consent(client, therapist)
    other_therapist = await server.therapist(admin)
    other_client = await server.client(other_therapist)
    return World(server, admin, therapist, client, other_therapist, other_client)


Request = tuple[str, str, Any]
Prepare = Callable[[World, Device | None], Awaitable[Request]]


def fixed(method: str, path: str, body: Any = None) -> Prepare:
    async def prepare(w: World, actor: Device | None) -> Request:
        return method, path.format(w=w), body

    return prepare


async def _revoke_invitation(w: World, actor: Device | None) -> Request:
    r = await w.therapist.call("POST", f"{API}/invitations", {"role": "client"})
    return "DELETE", f"{API}/invitations/{r.body['invitation_id']}", None


async def _revoke_client_device(w: World, actor: Device | None) -> Request:
    second = await w.server.add_device(w.client)
    return "DELETE", f"{API}/devices/{second.device_id}", None


async def _rotate(w: World, actor: Device | None) -> Request:
    signer = (actor or w.client).keys.identity
    spk = SignedPreKeyPair.generate(signer, 7).public_part()
    return (
        "PUT",
        f"{API}/keys/signed-prekey",
        {"id": 7, "public": b64(spk.public.to_bytes()), "signature": b64(spk.signature)},
    )


async def _upload(w: World, actor: Device | None) -> Request:
    from crypto.keys import generate_one_time_prekeys

    keys = generate_one_time_prekeys(900, 2)
    return (
        "POST",
        f"{API}/keys/one-time-prekeys",
        {"prekeys": [{"id": k.key_id, "public": b64(k.public_part().public.to_bytes())} for k in keys]},
    )


async def _consent(w: World, actor: Device | None) -> Request:
    r = await w.therapist.call("GET", f"{API}/therapists/{w.therapist.account_id}/terms")
    signer = actor or w.client
    body = signer.consent_body(
        w.therapist.account_id, r.body["version"], base64.b64decode(r.body["terms_hash"]), w.server.clock()
    )
    return "POST", f"{API}/consent", body


def _send_target(w: World, actor: Device | None) -> Device:
    return w.client if actor is w.therapist else w.therapist


async def _send(w: World, actor: Device | None) -> Request:
    sender = actor or w.client
    target = _send_target(w, actor)
    return "POST", f"{API}/messages", sender.send_body(target.account_id, [target.device_id])


# route -> (prepare, expected status per actor in ACTORS order)
MATRIX: dict[str, tuple[Prepare, tuple[int, ...]]] = {
    "POST /invitations": (
        fixed("POST", f"{API}/invitations", {"role": "client"}),
        (401, 403, 403, 201, 201, 403),
    ),
    "GET /invitations": (fixed("GET", f"{API}/invitations"), (401, 403, 403, 200, 200, 200)),
    "DELETE /invitations/{id}": (_revoke_invitation, (401, 403, 403, 204, 404, 404)),
    "POST /invitations/check": (
        fixed("POST", f"{API}/invitations/check", {"invitation_code": "not-a-code"}),
        (200, 200, 200, 200, 200, 200),
    ),
    "GET /me": (fixed("GET", f"{API}/me"), (401, 200, 200, 200, 200, 200)),
    "GET /keys/one-time-prekeys": (
        fixed("GET", f"{API}/keys/one-time-prekeys"),
        (401, 200, 200, 200, 200, 200),
    ),
    "DELETE /devices/{id}": (_revoke_client_device, (401, 204, 404, 404, 404, 404)),
    "GET /contacts": (fixed("GET", f"{API}/contacts"), (401, 200, 200, 200, 200, 403)),
    "PUT /keys/signed-prekey": (_rotate, (401, 204, 204, 204, 204, 204)),
    "POST /keys/one-time-prekeys": (_upload, (401, 200, 200, 200, 200, 200)),
    "GET /keys/count": (fixed("GET", f"{API}/keys/count"), (401, 200, 200, 200, 200, 200)),
    "GET /accounts/{id}/bundles": (
        fixed("GET", API + "/accounts/{w.therapist.account_id}/bundles"),
        (401, 200, 403, 200, 403, 403),
    ),
    "GET /devices/{id}/bundle": (
        fixed("GET", API + "/devices/{w.therapist.device_id}/bundle"),
        (401, 200, 404, 200, 404, 404),
    ),
    "PUT /consent/terms": (
        fixed("PUT", f"{API}/consent/terms", {"text": "t"}),
        (401, 403, 403, 200, 200, 403),
    ),
    "GET /therapists/{id}/terms": (
        fixed("GET", API + "/therapists/{w.therapist.account_id}/terms"),
        (401, 200, 404, 200, 404, 404),
    ),
    "POST /consent": (_consent, (401, 200, 403, 403, 403, 403)),
    "GET /consent": (fixed("GET", f"{API}/consent"), (401, 200, 200, 200, 200, 403)),
    "POST /messages": (_send, (401, 200, 403, 200, 403, 403)),
    "GET /messages": (fixed("GET", f"{API}/messages"), (401, 200, 200, 200, 200, 200)),
    "POST /messages/ack": (
        fixed("POST", f"{API}/messages/ack", {"up_to": 0}),
        (401, 200, 200, 200, 200, 200),
    ),
    "DELETE /auth/token": (fixed("DELETE", f"{API}/auth/token"), (401, 204, 204, 204, 204, 204)),
    # The records custodian: off in this world, so a therapist's copy is a conflict (custodian_off).
    "GET /custodian": (fixed("GET", f"{API}/custodian"), (401, 403, 403, 200, 200, 200)),
    "PUT /admin/custodian": (
        fixed("PUT", f"{API}/admin/custodian", {"public_key": b64(bytes(range(32)))}),
        (401, 403, 403, 403, 403, 200),
    ),
    "POST /admin/custodian/off": (
        fixed("POST", f"{API}/admin/custodian/off"),
        (401, 403, 403, 403, 403, 200),
    ),
    "PUT /custodian/copies/{id}": (
        fixed(
            "PUT",
            f"{API}/custodian/copies/{'ab' * 16}",
            {"version": 1, "custodian_key": b64(bytes(range(32))), "ciphertext": b64(b"sealed")},
        ),
        (401, 403, 403, 409, 409, 403),
    ),
    "POST /custodian/copies/{id}/delete": (
        fixed("POST", f"{API}/custodian/copies/{'ab' * 16}/delete"),
        (401, 403, 403, 204, 204, 403),
    ),
}


@pytest.mark.parametrize("route", list(MATRIX))
async def test_http_authorization(server: Server, route: str) -> None:
    prepare, expected = MATRIX[route]
    w = await _world(server)
    got = []
    for name in ACTORS:
        actor = w.actor(name)
        method, path, body = await prepare(w, actor)
        if actor is None:
            r = await server.http.call(method, path, body)
        else:
            r = await actor.call(method, path, body)
        got.append(r.status)
    assert dict(zip(ACTORS, got, strict=True)) == dict(zip(ACTORS, expected, strict=True))


async def test_admin_sees_no_mailbox_and_no_contacts(server: Server) -> None:
    w = await _world(server)
    await w.client.call(
        "POST", f"{API}/messages", w.client.send_body(w.therapist.account_id, [w.therapist.device_id])
    )
    r = await w.admin.call("GET", f"{API}/messages")
    assert r.body == {"envelopes": [], "more": False}  # only the admin's own (empty) mailbox
    assert (await w.admin.call("GET", f"{API}/contacts")).code == "forbidden"
    assert (await w.admin.call("GET", f"{API}/consent")).code == "forbidden"


@pytest.mark.parametrize("event", ["send", "sync", "ack"])
async def test_socket_authorization(server: Server, event: str) -> None:
    w = await _world(server)
    anonymous = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await anonymous.connect(server.url, auth={}, transports=["websocket"], wait_timeout=5)
    outcomes = {}
    for name in ACTORS[1:]:
        actor = w.actor(name)
        assert actor is not None
        sock = await actor.connect()
        if event == "send":
            target = _send_target(w, actor)
            payload: Any = actor.send_body(target.account_id, [target.device_id])
        else:
            payload = {"after": 0} if event == "sync" else {"up_to": 0}
        reply = await sock.call(event, payload)
        outcomes[name] = "ok" if reply["ok"] else reply["error"]["code"]
    expected_send = {
        "client": "ok",
        "other_client": "not_linked",
        "therapist": "ok",
        "other_therapist": "not_linked",
        "admin": "not_linked",
    }
    expected = expected_send if event == "send" else dict.fromkeys(ACTORS[1:], "ok")
    assert outcomes == expected
