"""Invitations, account creation, extra devices, revocation, contacts, disabled accounts."""

from __future__ import annotations

import base64

import pytest

from storage.records import Role
from tests.server._kit import API, Keys, b64, eventually, hex_id, link_device
from tests.server.conftest import Server


async def test_admin_invites_therapist_who_invites_client(server: Server) -> None:
    admin = await server.admin()
    label = b64(b"encrypted-name")
    r = await admin.call("POST", f"{API}/invitations", {"role": "therapist", "label_ciphertext": label})
    assert r.status == 201
    assert r.body["url"] == f"{server.ctx.settings.base_url}/#/join/{r.body['code']}"
    therapist = await server.redeem(r.body["code"])
    assert therapist.role == "therapist" and therapist.linked_account_id is None

    client = await server.client(therapist)
    assert client.role == "client" and client.linked_account_id == therapist.account_id

    r = await admin.call("GET", f"{API}/invitations")
    [inv] = r.body["invitations"]
    assert inv["account_id"] == therapist.account_id and inv["used_at"] is not None
    assert inv["label_ciphertext"] == label and "code" not in inv


async def test_code_is_stored_only_as_hash(server: Server) -> None:
    admin = await server.admin()
    code = await server.invite(admin, "therapist")
    raw = (server.data_dir / "confidant.sqlite3").read_bytes()
    wal = server.data_dir / "confidant.sqlite3-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert code.encode() not in raw


@pytest.mark.parametrize(
    "inviter_role, role",
    [
        ("admin", "client"),
        ("admin", "admin"),
        ("therapist", "therapist"),
        ("therapist", "admin"),
        ("client", "client"),
        ("client", "therapist"),
    ],
)
async def test_who_may_invite_whom(server: Server, inviter_role: str, role: str) -> None:
    admin = await server.admin()
    therapist = await server.therapist(admin)
    inviter = {"admin": admin, "therapist": therapist, "client": await server.client(therapist)}[inviter_role]
    before = await server.count("invitations")
    r = await inviter.call("POST", f"{API}/invitations", {"role": role})
    assert (r.status, r.code) == (403, "forbidden")
    assert await server.count("invitations") == before


async def test_invitation_reuse_expiry_and_revocation(server: Server) -> None:
    admin = await server.admin()
    code = await server.invite(admin, "therapist")
    await server.redeem(code)
    before = await server.counts()
    r = await server.http.call("POST", f"{API}/accounts", Keys().register_body(code))
    assert (r.status, r.code) == (410, "invitation_invalid")

    expiring = await server.invite(admin, "therapist", ttl_seconds=60)
    server.clock.advance(60)
    r = await server.http.call("POST", f"{API}/accounts", Keys().register_body(expiring))
    assert (r.status, r.code) == (410, "invitation_invalid")

    r = await admin.call("POST", f"{API}/invitations", {"role": "therapist"})
    revoked_id, revoked_code = r.body["invitation_id"], r.body["code"]
    assert (await admin.call("DELETE", f"{API}/invitations/{revoked_id}")).status == 204
    assert (await admin.call("DELETE", f"{API}/invitations/{revoked_id}")).code == "not_found"
    r = await server.http.call("POST", f"{API}/accounts", Keys().register_body(revoked_code))
    assert (r.status, r.code) == (410, "invitation_invalid")
    after = await server.counts()
    assert after["accounts"] == before["accounts"] and after["devices"] == before["devices"]


async def test_bad_signed_prekey_does_not_consume_the_invitation(server: Server) -> None:
    admin = await server.admin()
    code = await server.invite(admin, "therapist")
    payload = Keys().payload()
    payload["signed_prekey"]["signature"] = b64(bytes(64))
    before = await server.counts()
    body = {"invitation_code": code, "account": Keys().account_payload(), "device": payload}
    r = await server.http.call("POST", f"{API}/accounts", body)
    assert (r.status, r.code) == (401, "signature_invalid")
    assert r.body["error"]["details"]["field"] == "device.signed_prekey.signature"
    assert await server.counts() == before
    await server.redeem(code)  # still usable


async def test_approved_link_adds_a_device_and_contacts_are_told(server: Server) -> None:
    therapist, client = await server.pair()
    t_sock = await therapist.connect()
    second = await server.add_device(client)
    event = await t_sock.next("devices_changed")
    assert event == {"account_id": client.account_id}
    r = await client.call("GET", f"{API}/me")
    assert {d["device_id"] for d in r.body["devices"]} == {client.device_id, second.device_id}
    r = await therapist.call("GET", f"{API}/contacts")
    [contact] = r.body["contacts"]
    assert {d["device_id"] for d in contact["devices"]} == {client.device_id, second.device_id}


async def test_a_link_is_single_use(server: Server) -> None:
    _, client = await server.pair()
    keys = client.keys.linked()
    link_id = await link_device(server.http, client, keys)
    ok = await server.http.call("POST", f"{API}/devices", {"link_id": link_id, "device": keys.payload()})
    assert ok.status == 201
    again = await server.http.call("POST", f"{API}/devices", {"link_id": link_id, "device": keys.payload()})
    assert (again.status, again.code) == (410, "invitation_invalid")


async def test_device_limit(server: Server) -> None:
    _, client = await server.pair()
    for _ in range(9):
        await server.add_device(client)
    keys = client.keys.linked()
    link_id = await link_device(server.http, client, keys)
    before = await server.count("devices")
    r = await server.http.call("POST", f"{API}/devices", {"link_id": link_id, "device": keys.payload()})
    assert (r.status, r.code) == (409, "conflict")
    assert await server.count("devices") == before


async def test_revoking_a_device_revokes_tokens_mailbox_and_tells_contacts(server: Server) -> None:
    therapist, client = await server.pair()
    second = await server.add_device(client)
    sock = await second.connect()
    t_sock = await therapist.connect()
    body = therapist.send_body(client.account_id, [client.device_id, second.device_id])
    assert (await therapist.call("POST", f"{API}/messages", body)).status == 200
    r = await client.call("DELETE", f"{API}/devices/{second.device_id}")
    assert r.status == 204
    assert (await t_sock.next("devices_changed")) == {"account_id": client.account_id}
    r = await second.call("GET", f"{API}/me")
    assert (r.status, r.code) == (401, "unauthenticated")
    await eventually(lambda: not sock.client.connected)  # the revoked device's connection is closed
    assert not sock.client.connected
    r = await client.call("GET", f"{API}/me")
    assert [d["device_id"] for d in r.body["devices"]] == [client.device_id]
    assert await server.count("mailbox") == 1  # only the first device's copy remains
    r = await client.call("DELETE", f"{API}/devices/{second.device_id}")
    assert r.code == "not_found"


async def test_cannot_revoke_someone_elses_device(server: Server) -> None:
    therapist, client = await server.pair()
    r = await client.call("DELETE", f"{API}/devices/{therapist.device_id}")
    assert (r.status, r.code) == (404, "not_found")
    assert (await therapist.call("GET", f"{API}/me")).status == 200


async def test_contacts_show_labels_only_to_the_therapist(server: Server) -> None:
    admin = await server.admin()
    therapist = await server.therapist(admin)
    label = b64(b"sealed label")
    client = await server.redeem(await server.invite(therapist, "client", label_ciphertext=label))
    r = await therapist.call("GET", f"{API}/contacts")
    [contact] = r.body["contacts"]
    assert contact["account_id"] == client.account_id and contact["label_ciphertext"] == label
    assert contact["consent"] == {"accepted_version": 0, "current_version": 0}
    r = await client.call("GET", f"{API}/contacts")
    [contact] = r.body["contacts"]
    assert contact["account_id"] == therapist.account_id and contact["label_ciphertext"] is None
    cert = therapist.keys.certificate()
    assert contact["account_key"] == b64(therapist.keys.account.public.to_bytes())
    assert contact["devices"] == [
        {
            "device_id": therapist.device_id,
            "identity_key": base64.b64encode(therapist.keys.identity_public).decode(),
            "certificate": {"created_at": cert.created_at, "signature": b64(cert.signature)},
        }
    ]


async def test_disabled_account_cannot_log_in_or_be_reached(server: Server) -> None:
    therapist, client = await server.pair()
    sock = await client.connect()
    await server.ctx.services.accounts.set_disabled(client.account_id, True)
    await eventually(lambda: not sock.client.connected)
    r = await client.call("GET", f"{API}/me")
    assert (r.status, r.code) == (403, "forbidden")
    r = await server.http.call("POST", f"{API}/auth/challenge", {"device_id": client.device_id})
    assert (r.status, r.code) == (403, "forbidden")
    before = await server.count("mailbox")
    r = await therapist.call(
        "POST", f"{API}/messages", therapist.send_body(client.account_id, [client.device_id])
    )
    assert (r.status, r.code) == (403, "forbidden")
    assert await server.count("mailbox") == before
    await server.ctx.services.accounts.set_disabled(client.account_id, False)
    assert (await client.call("GET", f"{API}/me")).status == 200


async def test_bootstrap_replaces_earlier_admin_codes(server: Server) -> None:
    first = await server.ctx.services.invitations.create_by_operator(Role.ADMIN)
    second = await server.ctx.services.invitations.create_by_operator(Role.ADMIN)
    r = await server.http.call("POST", f"{API}/accounts", Keys().register_body(first.code))
    assert r.code == "invitation_invalid"
    admin = await server.redeem(second.code)
    assert admin.role == "admin"
    assert hex_id()
