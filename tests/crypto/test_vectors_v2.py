"""Protocol version 2 known-answer vectors: signed messages, certificates, linking, replay keys, invitation
fingerprints (tests/vectors/*.json, shared with the browser)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crypto import fingerprint, linking, signed
from crypto import primitives as p
from crypto.certificate import DeviceCertificate
from crypto.errors import CryptoError
from crypto.keys import IdentityKeyPair, IdentityPublicKey, X25519KeyPair, X25519PublicKey
from crypto.replay import replay_key
from crypto.x3dh import InitialMessage

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


SIGNED = _load("signed.json")
LINKING = _load("linking.json")


def _build(case: dict[str, Any]) -> bytes:
    i = case["inputs"]
    if case["name"] == "auth":
        return signed.auth_message(_h(i["nonce"]), _h(i["device_id"]))
    if case["name"] == "consent":
        return signed.consent_message(
            _h(i["therapist_id"]), _h(i["client_id"]), i["version"], _h(i["terms_hash"]), i["signed_at"]
        )
    if case["name"] == "signed_prekey":
        return signed.signed_prekey_message(i["id"], _h(i["public"]))
    return signed.certificate_message(
        _h(i["account_id"]), _h(i["device_id"]), _h(i["identity_key"]), i["created_at"]
    )


@pytest.mark.parametrize("case", SIGNED["cases"], ids=lambda c: c["name"])
def test_signed_messages_are_reproduced_and_signed_byte_for_byte(case: dict[str, Any]) -> None:
    signer = IdentityKeyPair(_h(SIGNED[case["signer"]]["seed"]))
    message = _build(case)
    assert message.hex() == case["message"]
    assert signer.sign(message).hex() == case["signature"]
    signer.public.verify(message, _h(case["signature"]))


def test_each_context_is_distinct_so_no_signature_serves_two_purposes() -> None:
    contexts = [
        signed.AUTH_CONTEXT,
        signed.CONSENT_CONTEXT,
        signed.SIGNED_PREKEY_CONTEXT,
        signed.CERTIFICATE_CONTEXT,
    ]
    assert all(not a.startswith(b) for a in contexts for b in contexts if a is not b)


def test_certificate_vector_and_its_refusals() -> None:
    c = SIGNED["certificate"]
    account = IdentityPublicKey(_h(SIGNED["account"]["public"]))
    cert = DeviceCertificate.from_bytes(_h(c["bytes"]))
    good = {
        "account_key": account,
        "account_id": _h(c["account_id"]),
        "device_id": _h(c["device_id"]),
        "identity_key": IdentityPublicKey(_h(c["identity_key"])),
    }
    cert.verify(**good)  # type: ignore[arg-type]
    for bad in c["invalid"]:
        args = dict(good)
        for field in ("account_id", "device_id"):
            if field in bad:
                args[field] = _h(bad[field])
        for field in ("identity_key", "account_key"):
            if field in bad:
                args[field] = IdentityPublicKey(_h(bad[field]))
        candidate = DeviceCertificate(bad.get("created_at", cert.created_at), cert.signature)
        with pytest.raises(CryptoError) as exc:
            candidate.verify(**args)  # type: ignore[arg-type]
        assert type(exc.value).__name__ == bad["error"], bad["name"]


def test_linking_vector_both_sides_agree_and_the_bundle_opens() -> None:
    v = LINKING
    new_link, offer = (
        X25519KeyPair(_h(v["new_link_key"]["secret"])),
        X25519KeyPair(_h(v["offer_key"]["secret"])),
    )
    assert linking.encode_link_code(new_link.public) == v["link_code"]
    assert linking.format_link_code(v["link_code"]) == v["link_code_display"]
    assert linking.parse_link_code(v["link_code_display"].lower()) == new_link.public
    assert linking.link_id(new_link.public).hex() == v["link_id"]
    identity = IdentityPublicKey(_h(v["identity_key"]))
    t = linking.transcript(new_link.public, offer.public, _h(v["account_id"]), _h(v["device_id"]), identity)
    assert t.hex() == v["transcript"]
    assert new_link.dh(offer.public).hex() == v["dh"]
    assert p.hkdf_sha256(_h(v["dh"]), t, linking.LINK_INFO, 64).hex() == v["okm"]
    new_side = linking.derive_link_keys(new_link, offer.public, t)
    old_side = linking.derive_link_keys(offer, new_link.public, t)
    assert new_side.comparison == old_side.comparison == v["comparison"]
    assert new_side.display() == v["comparison_display"]
    assert new_side.bundle_key.hex() == v["bundle_key"]
    sealed = linking.seal_bundle(
        old_side, linking.AccountBundle.from_bytes(_h(v["account_bundle"])), _h(v["nonce"])
    )
    assert sealed.hex() == v["sealed_bundle"]
    bundle = linking.open_bundle(new_side, sealed)
    assert bundle.to_bytes().hex() == v["account_bundle"]
    assert bundle.account_key.public.to_bytes().hex() == v["account"]["public"]
    assert {k: val.hex() for k, val in bundle.secrets.items()} == {
        s["type"]: s["value"] for s in v["secrets"]
    }
    bundle.certificate.verify(bundle.account_key.public, bundle.account_id, _h(v["device_id"]), identity)
    swapped = X25519PublicKey(_h(v["swapped_offer_key"]))
    t2 = linking.transcript(new_link.public, swapped, _h(v["account_id"]), _h(v["device_id"]), identity)
    assert (
        linking.derive_link_keys(new_link, swapped, t2).comparison
        == v["swapped_comparison"]
        != v["comparison"]
    )


@pytest.mark.parametrize("case", LINKING["invalid_codes"], ids=lambda c: c["name"])
def test_invalid_link_codes_are_refused(case: dict[str, Any]) -> None:
    with pytest.raises(CryptoError) as exc:
        linking.parse_link_code(case["code"])
    assert type(exc.value).__name__ == case["error"]


def test_tampered_or_retargeted_bundle_is_refused() -> None:
    v = LINKING
    new_link, offer = (
        X25519KeyPair(_h(v["new_link_key"]["secret"])),
        X25519KeyPair(_h(v["offer_key"]["secret"])),
    )
    keys = linking.derive_link_keys(new_link, offer.public, _h(v["transcript"]))
    with pytest.raises(CryptoError) as exc:
        linking.open_bundle(keys, _h(v["tampered_sealed_bundle"]["sealed"]))
    assert type(exc.value).__name__ == v["tampered_sealed_bundle"]["error"]
    other = linking.derive_link_keys(
        new_link, offer.public, _h(v["bundle_under_swapped_transcript"]["transcript"])
    )
    with pytest.raises(CryptoError) as exc:
        linking.open_bundle(other, _h(v["sealed_bundle"]))
    assert type(exc.value).__name__ == v["bundle_under_swapped_transcript"]["error"]


def test_invitation_fingerprint_vector() -> None:
    a = _load("fingerprint.json")["alice"]
    key, account = IdentityPublicKey(_h(a["account_key"])), _h(a["account_id"])
    assert fingerprint.invitation_fingerprint(key, account).hex() == a["invitation_fingerprint"]
    assert fingerprint.invitation_fingerprint_text(key, account) == a["invitation_fingerprint_text"]
    assert fingerprint.verify_invitation_fingerprint(a["invitation_fingerprint_text"], key, account)
    other = IdentityKeyPair.generate().public
    assert not fingerprint.verify_invitation_fingerprint(a["invitation_fingerprint_text"], other, account)


def test_replay_key_vector() -> None:
    v = _load("replay.json")
    initial = InitialMessage(
        IdentityPublicKey(_h(v["identity_key"])), X25519PublicKey(_h(v["ephemeral_key"])), 7, None
    )
    assert replay_key(initial).hex() == v["replay_key"]
