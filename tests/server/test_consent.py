"""Consent: versioned terms, signed acceptance, and enforcement on messaging."""

from __future__ import annotations

import base64
import hashlib

from tests.server._kit import API
from tests.server.conftest import Server


async def test_publish_and_read_terms(server: Server) -> None:
    therapist = await server.therapist()
    client = await server.client(therapist)
    text = "Everything stays between us, except risk of harm, abuse, or a court order."
    published = await server.publish_terms(therapist, text)
    assert published["version"] == 1
    assert base64.b64decode(published["terms_hash"]) == hashlib.sha256(text.encode()).digest()
    r = await client.call("GET", f"{API}/therapists/{therapist.account_id}/terms")
    assert (
        r.body["text"] == text and r.body["version"] == 1 and r.body["therapist_id"] == therapist.account_id
    )
    assert (await server.publish_terms(therapist, "v2"))["version"] == 2


async def test_messages_need_consent_for_the_current_version(server: Server) -> None:
    therapist = await server.therapist()
    client = await server.client(therapist)
    body = client.send_body(therapist.account_id, [therapist.device_id])
    r = await client.call("POST", f"{API}/messages", body)
    assert (r.status, r.code) == (403, "consent_required")
    assert r.body["error"]["details"] == {"therapist_id": therapist.account_id, "version": 0}

    await server.publish_terms(therapist)
    r = await therapist.call(
        "POST", f"{API}/messages", therapist.send_body(client.account_id, [client.device_id])
    )
    assert r.body["error"]["details"] == {"therapist_id": therapist.account_id, "version": 1}
    await server.consent(client, therapist)
    assert (await client.call("POST", f"{API}/messages", body)).status == 200

    c_sock = await client.connect()
    await server.publish_terms(therapist, "new terms")
    assert await c_sock.next("consent_changed") == {"therapist_id": therapist.account_id, "version": 2}
    before = await server.count("mailbox")
    r = await client.call(
        "POST", f"{API}/messages", client.send_body(therapist.account_id, [therapist.device_id])
    )
    assert (r.code, r.body["error"]["details"]["version"]) == ("consent_required", 2)
    assert await server.count("mailbox") == before
    await server.consent(client, therapist)
    r = await therapist.call("GET", f"{API}/contacts")
    assert r.body["contacts"][0]["consent"] == {"accepted_version": 2, "current_version": 2}
    r = await client.call("GET", f"{API}/consent")
    assert [(c["therapist_id"], c["client_id"], c["version"]) for c in r.body["consents"]] == [
        (therapist.account_id, client.account_id, 2)
    ]


async def test_bad_consents_change_nothing(server: Server) -> None:
    therapist = await server.therapist()
    client = await server.client(therapist)
    await server.publish_terms(therapist, "one")
    await server.publish_terms(therapist, "two")
    h2 = hashlib.sha256(b"two").digest()
    now = server.clock()
    cases = [
        (client.consent_body(therapist.account_id, 1, hashlib.sha256(b"one").digest(), now), 409, "conflict"),
        (
            client.consent_body(therapist.account_id, 2, hashlib.sha256(b"one").digest(), now),
            400,
            "invalid_field",
        ),
        (client.consent_body(therapist.account_id, 2, h2, now + 3600_000), 400, "invalid_field"),
        (
            dict(client.consent_body(therapist.account_id, 2, h2, now), signed_at=now + 1),
            401,
            "signature_invalid",
        ),
    ]
    other = await server.therapist()
    cases.append((client.consent_body(other.account_id, 1, h2, now), 403, "not_linked"))
    for body, status, code in cases:
        r = await client.call("POST", f"{API}/consent", body)
        assert (r.status, r.code) == (status, code), body
    assert await server.count("consents") == 0
    r = await therapist.call("POST", f"{API}/consent", client.consent_body(therapist.account_id, 2, h2, now))
    assert (r.status, r.code) == (403, "forbidden")


async def test_terms_visibility(server: Server) -> None:
    admin = await server.admin()
    therapist = await server.therapist(admin)
    await server.publish_terms(therapist)
    stranger = await server.client(await server.therapist(admin))
    for caller in (stranger, admin):
        r = await caller.call("GET", f"{API}/therapists/{therapist.account_id}/terms")
        assert (r.status, r.code) == (404, "not_found")
    assert (await therapist.call("GET", f"{API}/therapists/{therapist.account_id}/terms")).status == 200
    r = await admin.call("PUT", f"{API}/consent/terms", {"text": "x"})
    assert (r.status, r.code) == (403, "forbidden")
    r = await therapist.call("PUT", f"{API}/consent/terms", {"text": "x" * (64 * 1024 + 1)})
    assert (r.status, r.code) == (413, "payload_too_large")
    assert await server.count("terms") == 1


async def test_unchanged_terms_are_refused_and_publish_nothing(server: Server) -> None:
    therapist = await server.therapist()
    await server.publish_terms(therapist, "same words")
    r = await therapist.call("PUT", f"{API}/consent/terms", {"text": "same words"})
    assert r.status == 409, r.body
    assert r.body["error"]["code"] == "conflict"
    assert r.body["error"]["details"] == {"reason": "terms_unchanged", "current_version": 1}
    r = await therapist.call("GET", f"{API}/therapists/{therapist.account_id}/terms")
    assert r.body["version"] == 1
    assert (await server.publish_terms(therapist, "same words, and one more"))["version"] == 2
