"""Known-answer vectors of protocol version 2 (docs/PROTOCOL.md sections 10, 16-19), used by gen_vectors.py.

Same determinism as gen_vectors.py: every key, id and nonce comes from `seed(label)`.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from crypto import fingerprint, linking, signed
from crypto import primitives as p
from crypto.certificate import DeviceCertificate
from crypto.errors import CryptoError
from crypto.keys import IdentityKeyPair, X25519KeyPair
from crypto.replay import replay_key
from crypto.x3dh import InitialMessage

Json = dict[str, Any]


def seed(label: str, size: int = 32) -> bytes:
    return hashlib.sha512(b"confidant-vectors/" + label.encode()).digest()[:size]


def _ed(label: str) -> IdentityKeyPair:
    return IdentityKeyPair(seed(label))


def _error(fn: Any, *args: Any) -> str:
    try:
        fn(*args)
    except CryptoError as exc:
        return type(exc).__name__
    raise AssertionError("expected an error")


def gen_signed() -> Json:
    """Every signed message of section 16.1, with the signer and the (deterministic) Ed25519 signature."""
    device = _ed("signed/device")
    account = _ed("signed/account")
    account_id, device_id = seed("signed/account-id", 16), seed("signed/device-id", 16)
    nonce = seed("signed/nonce")
    therapist, client = seed("signed/therapist", 16), seed("signed/client", 16)
    terms_hash = hashlib.sha256(b"Terms, version 3.").digest()
    spk_public = X25519KeyPair(seed("signed/spk")).public.to_bytes()
    created_at, signed_at = 1_764_370_000_000, 1_764_370_123_456
    cases = [
        {
            "name": "auth",
            "signer": "device",
            "inputs": {"nonce": nonce.hex(), "device_id": device_id.hex()},
            "message": signed.auth_message(nonce, device_id),
        },
        {
            "name": "consent",
            "signer": "device",
            "inputs": {
                "therapist_id": therapist.hex(),
                "client_id": client.hex(),
                "version": 3,
                "terms_hash": terms_hash.hex(),
                "signed_at": signed_at,
            },
            "message": signed.consent_message(therapist, client, 3, terms_hash, signed_at),
        },
        {
            "name": "signed_prekey",
            "signer": "device",
            "inputs": {"id": 7, "public": spk_public.hex()},
            "message": signed.signed_prekey_message(7, spk_public),
        },
        {
            "name": "certificate",
            "signer": "account",
            "inputs": {
                "account_id": account_id.hex(),
                "device_id": device_id.hex(),
                "identity_key": device.public.to_bytes().hex(),
                "created_at": created_at,
            },
            "message": signed.certificate_message(
                account_id, device_id, device.public.to_bytes(), created_at
            ),
        },
    ]
    out = []
    for case in cases:
        signer = device if case["signer"] == "device" else account
        message = case["message"]
        assert isinstance(message, bytes)
        out.append({**case, "message": message.hex(), "signature": signer.sign(message).hex()})
    cert = DeviceCertificate.issue(account, account_id, device_id, device.public, created_at)
    other_device = _ed("signed/other-device").public
    return {
        "description": "Every signed message (PROTOCOL.md 16.1) and a device certificate (16.2).",
        "device": {"seed": device.to_bytes().hex(), "public": device.public.to_bytes().hex()},
        "account": {"seed": account.to_bytes().hex(), "public": account.public.to_bytes().hex()},
        "cases": out,
        "certificate": {
            "account_id": account_id.hex(),
            "device_id": device_id.hex(),
            "identity_key": device.public.to_bytes().hex(),
            "created_at": created_at,
            "bytes": cert.to_bytes().hex(),
            "invalid": [
                {
                    "name": "other device id",
                    "device_id": seed("signed/x", 16).hex(),
                    "error": "BadCertificate",
                },
                {
                    "name": "other account id",
                    "account_id": seed("signed/y", 16).hex(),
                    "error": "BadCertificate",
                },
                {
                    "name": "other identity key",
                    "identity_key": other_device.to_bytes().hex(),
                    "error": "BadCertificate",
                },
                {"name": "other created_at", "created_at": created_at + 1, "error": "BadCertificate"},
                {
                    "name": "signed by the device key",
                    "account_key": device.public.to_bytes().hex(),
                    "error": "BadCertificate",
                },
            ],
        },
    }


def gen_linking() -> Json:
    new_link, offer = X25519KeyPair(seed("link/new")), X25519KeyPair(seed("link/offer"))
    account = _ed("link/account")
    account_id = seed("link/account-id", 16)
    new_device, new_identity = seed("link/device-id", 16), _ed("link/device-identity")
    code = linking.encode_link_code(new_link.public)
    t = linking.transcript(new_link.public, offer.public, account_id, new_device, new_identity.public)
    keys_new = linking.derive_link_keys(new_link, offer.public, t)
    keys_existing = linking.derive_link_keys(offer, new_link.public, t)
    assert keys_new == keys_existing
    created_at = 1_764_370_000_000
    cert = DeviceCertificate.issue(account, account_id, new_device, new_identity.public, created_at)
    secrets = {0x01: seed("link/vault-key"), 0x7F: b"opaque future secret"}
    bundle = linking.AccountBundle(account_id, account, cert, secrets)
    nonce = seed("link/nonce", 24)
    sealed = linking.seal_bundle(keys_existing, bundle, nonce)
    swapped = X25519KeyPair(seed("link/relay")).public
    t_swapped = linking.transcript(new_link.public, swapped, account_id, new_device, new_identity.public)
    okm = p.hkdf_sha256(new_link.dh(offer.public), t, linking.LINK_INFO, 64)
    return {
        "description": "Linking a device (PROTOCOL.md 17): code, id, transcript, comparison, sealed bundle.",
        "new_link_key": {"secret": new_link.secret_bytes().hex(), "public": new_link.public.to_bytes().hex()},
        "offer_key": {"secret": offer.secret_bytes().hex(), "public": offer.public.to_bytes().hex()},
        "account": {"seed": account.to_bytes().hex(), "public": account.public.to_bytes().hex()},
        "account_id": account_id.hex(),
        "device_id": new_device.hex(),
        "identity_key": new_identity.public.to_bytes().hex(),
        "link_code": code,
        "link_code_display": linking.format_link_code(code),
        "link_id": linking.link_id(new_link.public).hex(),
        "dh": new_link.dh(offer.public).hex(),
        "transcript": t.hex(),
        "okm": okm.hex(),
        "comparison": keys_new.comparison,
        "comparison_display": keys_new.display(),
        "bundle_key": keys_new.bundle_key.hex(),
        "certificate": cert.to_bytes().hex(),
        "secrets": [{"type": k, "value": v.hex()} for k, v in sorted(secrets.items())],
        "account_bundle": bundle.to_bytes().hex(),
        "nonce": nonce.hex(),
        "sealed_bundle": sealed.hex(),
        "swapped_offer_key": swapped.to_bytes().hex(),
        "swapped_comparison": linking.derive_link_keys(new_link, swapped, t_swapped).comparison,
        "invalid_codes": [
            {"name": "too short", "code": code[:-1], "error": "MalformedEnvelope"},
            {"name": "bad character", "code": "1" + code[1:], "error": "MalformedEnvelope"},
            {
                "name": "version 1",
                "code": base64.b32encode(b"\x01" + new_link.public.to_bytes()).decode().rstrip("="),
                "error": "UnsupportedVersion",
            },
            {
                "name": "all-zero key",
                "code": base64.b32encode(b"\x02" + bytes(32)).decode().rstrip("="),
                "error": "InvalidKey",
            },
        ],
        "tampered_sealed_bundle": {
            "sealed": sealed[:-1].hex() + f"{sealed[-1] ^ 1:02x}",
            "error": "DecryptionFailed",
        },
        "bundle_under_swapped_transcript": {
            "transcript": t_swapped.hex(),
            "error": _error(
                linking.open_bundle, linking.derive_link_keys(new_link, offer.public, t_swapped), sealed
            ),
        },
    }


def gen_fingerprint() -> Json:
    a, b = _ed("fingerprint/alice").public, _ed("fingerprint/bob").public
    a_acct, b_acct = seed("fingerprint/alice/account", 16), seed("fingerprint/bob/account", 16)
    return {
        "description": "Safety number and QR over two ACCOUNT keys (version 2), invitation fingerprint.",
        "version": 2,
        "iterations": fingerprint.FINGERPRINT_ITERATIONS,
        "alice": {
            "account_key": a.to_bytes().hex(),
            "account_id": a_acct.hex(),
            "hash": fingerprint.party_fingerprint(a, a_acct).hex(),
            "invitation_fingerprint": fingerprint.invitation_fingerprint(a, a_acct).hex(),
            "invitation_fingerprint_text": fingerprint.invitation_fingerprint_text(a, a_acct),
        },
        "bob": {
            "account_key": b.to_bytes().hex(),
            "account_id": b_acct.hex(),
            "hash": fingerprint.party_fingerprint(b, b_acct).hex(),
        },
        "safety_number": fingerprint.safety_number(a, a_acct, b, b_acct),
        "display": fingerprint.format_safety_number(fingerprint.safety_number(a, a_acct, b, b_acct)),
        "qr_payload": fingerprint.qr_payload(a, a_acct, b, b_acct).hex(),
    }


def gen_replay() -> Json:
    initial = InitialMessage(_ed("replay/alice").public, X25519KeyPair(seed("replay/ek")).public, 7, None)
    return {
        "description": "Replay-cache key of an accepted X3DH initial message (PROTOCOL.md 19).",
        "identity_key": initial.identity_key.to_bytes().hex(),
        "ephemeral_key": initial.ephemeral_key.to_bytes().hex(),
        "replay_key": replay_key(initial).hex(),
    }
