"""The administration API is for admins only, shows aggregates only, and its moderation actions work and
are audited: no message content, no names or labels, no client ids, no therapist-client pairs."""

from __future__ import annotations

import base64

from tests.ops.conftest import Relay

API = "/api/v1"
SECRET_TEXT = "I have been feeling hopeless since Tuesday"
LABEL = b"label: Jane Example, referred by Dr. Who"


def _admin_routes(relay: Relay) -> list[tuple[str, str]]:
    target = relay.client.account_id
    return [
        ("GET", f"{API}/admin/health"),
        ("GET", f"{API}/admin/overview"),
        ("GET", f"{API}/admin/staff"),
        ("GET", f"{API}/admin/audit/verify"),
        ("POST", f"{API}/admin/accounts/{target}/disable"),
        ("POST", f"{API}/admin/accounts/{target}/enable"),
        ("DELETE", f"{API}/admin/devices/{relay.client.device_id}"),
    ]


async def test_admin_api_refuses_everyone_but_admins(relay: Relay) -> None:
    for method, path in _admin_routes(relay):
        anonymous = await relay.call(method, path)
        assert (anonymous.status, anonymous.body["error"]["code"]) == (401, "unauthenticated"), path
        for device in (relay.therapist, relay.client):
            reply = await relay.call(method, path, device)
            assert (reply.status, reply.body["error"]["code"]) == (403, "forbidden"), (path, reply.text)
    # Nothing happened: the client is still enabled and its device still works.
    assert (await relay.call("GET", f"{API}/me", relay.client)).status == 200
    overview = await relay.call("GET", f"{API}/admin/overview", relay.admin)
    assert overview.body["disabled_accounts"]["client"] == 0


async def test_admin_responses_hold_no_content_names_or_pairs(relay: Relay) -> None:
    message_id = await relay.client.send(relay.therapist.account_id, SECRET_TEXT)
    assert [m.body for m in await relay.therapist.receive(1)] == [SECRET_TEXT]
    labelled = await relay.therapist.invite_client(label_ciphertext=LABEL)

    texts = []
    for path in ("health", "overview", "staff", "audit/verify"):
        reply = await relay.call("GET", f"{API}/admin/{path}", relay.admin)
        assert reply.status == 200, reply.text
        texts.append(reply.text)
    everything = "\n".join(texts)

    health = await relay.call("GET", f"{API}/admin/health", relay.admin)
    assert health.body["metrics"]["envelopes"]["accepted"] == 1  # live aggregates are there
    overview = await relay.call("GET", f"{API}/admin/overview", relay.admin)
    assert overview.body["accounts"] == {"admin": 1, "therapist": 1, "client": 1}
    assert overview.body["pending_invitations"]["client"] == 1
    staff = await relay.call("GET", f"{API}/admin/staff", relay.admin)
    assert {a["role"] for a in staff.body["accounts"]} == {"admin", "therapist"}

    forbidden = [
        SECRET_TEXT, "hopeless", base64.b64encode(SECRET_TEXT.encode()).decode(),
        LABEL.decode(), base64.b64encode(LABEL).decode(), "Jane",
        message_id, labelled["code"], labelled["invitation_id"],
        relay.client.account_id, relay.client.device_id,  # clients are never listed: no pair can be formed
        *relay.codes, *relay.tokens(),
    ]
    for secret in forbidden:
        assert secret not in everything, f"admin API exposed {secret!r}"


async def test_admins_disable_enable_and_revoke_with_an_audit_trail(relay: Relay) -> None:
    client_id = relay.client.account_id
    reply = await relay.call("POST", f"{API}/admin/accounts/{client_id}/disable", relay.admin)
    assert (reply.status, reply.body) == (200, {"account_id": client_id, "disabled": True})
    refused = await relay.call("GET", f"{API}/me", relay.client)
    assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden")
    overview = await relay.call("GET", f"{API}/admin/overview", relay.admin)
    assert overview.body["disabled_accounts"]["client"] == 1

    reply = await relay.call("POST", f"{API}/admin/accounts/{client_id}/enable", relay.admin)
    assert (reply.status, reply.body) == (200, {"account_id": client_id, "disabled": False})
    mine = await relay.call("GET", f"{API}/audit/me", relay.client)
    assert mine.status == 200
    by_admin = [e["event"] for e in mine.body["entries"] if e["by_admin"]]
    assert by_admin == ["admin_account_enabled", "admin_account_disabled"]
    assert relay.admin.account_id not in mine.text

    own = await relay.call("POST", f"{API}/admin/accounts/{relay.admin.account_id}/disable", relay.admin)
    assert (own.status, own.body["error"]["code"]) == (403, "forbidden")
    unknown = await relay.call("POST", f"{API}/admin/accounts/{'0' * 32}/disable", relay.admin)
    assert (unknown.status, unknown.body["error"]["code"]) == (404, "not_found")

    revoked = await relay.call("DELETE", f"{API}/admin/devices/{relay.client.device_id}", relay.admin)
    assert revoked.status == 204
    gone = await relay.call("GET", f"{API}/me", relay.client)
    assert (gone.status, gone.body["error"]["code"]) == (401, "unauthenticated")
    again = await relay.call("DELETE", f"{API}/admin/devices/{relay.client.device_id}", relay.admin)
    assert (again.status, again.body["error"]["code"]) == (404, "not_found")

    admin_audit = await relay.call("GET", f"{API}/audit/me", relay.admin)
    events = [e["event"] for e in admin_audit.body["entries"]]
    assert events[:3] == ["admin_device_revoked", "admin_account_enabled", "admin_account_disabled"]
    assert "admin_invitation_created" in events
    assert client_id not in admin_audit.text
