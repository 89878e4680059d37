"""Authenticated writes are bounded per account (server/limits.py): outstanding link codes, outstanding
invitations and terms versions refuse past the cap with ``limit_reached`` and store nothing more; the audit
log records a signed prekey only when the key really changes."""

from __future__ import annotations

from typing import Any

from crypto.keys import X25519KeyPair
from server import limits
from tests.server._kit import API, b64
from tests.server.conftest import Server


async def test_pending_link_offers_are_capped(server: Server) -> None:
    therapist, _ = await server.pair()
    cap = limits.MAX_OUTSTANDING_LINK_CODES

    async def offer() -> Any:
        keys = therapist.keys.linked()
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
        link_key = b64(X25519KeyPair.generate().public.to_bytes())
        return await therapist.call(
            "POST", f"{API}/device-links/{r.body['link_id']}/offer", {"link_key": link_key}
        )

    for _ in range(cap):
        assert (await offer()).status == 200
    r = await offer()
    assert (r.status, r.code) == (409, "limit_reached"), r.body
    assert r.body["error"]["details"]["limit"] == cap


async def test_outstanding_invitations_are_capped_and_revoking_frees_one(server: Server) -> None:
    therapist = await server.therapist()
    cap = limits.MAX_OUTSTANDING_INVITATIONS
    label = b64(bytes(limits.MAX_LABEL_CIPHERTEXT_BYTES))
    ids = []
    for _ in range(cap):
        r = await therapist.call("POST", f"{API}/invitations", {"role": "client", "label_ciphertext": label})
        assert r.status == 201, r.body
        ids.append(r.body["invitation_id"])
    before = await server.count("invitations")
    r = await therapist.call("POST", f"{API}/invitations", {"role": "client"})
    assert (r.status, r.code) == (409, "limit_reached"), r.body
    assert await server.count("invitations") == before
    assert (await therapist.call("DELETE", f"{API}/invitations/{ids[0]}")).status == 204
    assert (await therapist.call("POST", f"{API}/invitations", {"role": "client"})).status == 201


async def test_terms_versions_are_capped(server: Server) -> None:
    therapist = await server.therapist()
    for version in range(1, limits.MAX_TERMS_VERSIONS + 1):
        r = await therapist.call("PUT", f"{API}/consent/terms", {"text": f"Terms version {version}."})
        assert r.status == 200 and r.body["version"] == version, r.body
    r = await therapist.call("PUT", f"{API}/consent/terms", {"text": "One too many."})
    assert (r.status, r.code) == (409, "limit_reached"), r.body
    assert await server.count("terms") == limits.MAX_TERMS_VERSIONS


async def test_reuploading_the_same_signed_prekey_adds_no_audit_entry(server: Server) -> None:
    from crypto import SignedPreKeyPair

    therapist, _ = await server.pair()

    async def key_changes() -> int:
        r = await therapist.call("GET", f"{API}/audit/me?limit=200")
        assert r.status == 200, r.body
        return sum(1 for e in r.body["entries"] if e["event"] == "key_changed")

    before = await key_changes()
    spk = SignedPreKeyPair.generate(therapist.keys.identity, 2).public_part()
    body = {"id": 2, "public": b64(spk.public.to_bytes()), "signature": b64(spk.signature)}
    for _ in range(3):
        assert (await therapist.call("PUT", f"{API}/keys/signed-prekey", body)).status == 204
    assert await key_changes() == before + 1
