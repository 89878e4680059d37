"""Key material <-> the JSON shapes of docs/API.md (device payloads, bundles, auth and consent messages)."""

from __future__ import annotations

import hashlib
from typing import Any

from client._wire import b64d, b64e
from crypto import (
    DeviceCertificate,
    IdentityKeyPair,
    IdentityPublicKey,
    OneTimePreKey,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKey,
    SignedPreKeyPair,
    X25519PublicKey,
    signed,
)

__all__ = [
    "auth_message",
    "bundle_from_wire",
    "certificate_wire",
    "consent_message",
    "device_payload",
    "otk_wire",
    "spk_wire",
]


def spk_wire(spk: SignedPreKeyPair) -> dict[str, Any]:
    return {
        "id": spk.key_id,
        "public": b64e(spk.key_pair.public.to_bytes()),
        "signature": b64e(spk.signature),
    }


def otk_wire(otk: OneTimePreKeyPair) -> dict[str, Any]:
    return {"id": otk.key_id, "public": b64e(otk.key_pair.public.to_bytes())}


def certificate_wire(cert: DeviceCertificate) -> dict[str, Any]:
    return {"created_at": cert.created_at, "signature": b64e(cert.signature)}


def device_payload(
    device_id: str,
    identity: IdentityKeyPair,
    certificate: DeviceCertificate,
    spk: SignedPreKeyPair,
    otks: list[OneTimePreKeyPair],
) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "identity_key": b64e(identity.public.to_bytes()),
        "certificate": certificate_wire(certificate),
        "signed_prekey": spk_wire(spk),
        "one_time_prekeys": [otk_wire(k) for k in otks],
    }


def bundle_from_wire(doc: dict[str, Any]) -> PreKeyBundle:
    spk = doc["signed_prekey"]
    otk = doc.get("one_time_prekey")
    return PreKeyBundle(
        IdentityPublicKey(b64d(doc["identity_key"])),
        SignedPreKey(int(spk["id"]), X25519PublicKey(b64d(spk["public"])), b64d(spk["signature"])),
        OneTimePreKey(int(otk["id"]), X25519PublicKey(b64d(otk["public"]))) if otk else None,
    )


def auth_message(nonce: bytes, device_id: str) -> bytes:
    return signed.auth_message(nonce, bytes.fromhex(device_id))


def consent_message(
    therapist_id: str, client_id: str, version: int, terms_hash: bytes, signed_at: int
) -> bytes:
    return signed.consent_message(
        bytes.fromhex(therapist_id), bytes.fromhex(client_id), version, terms_hash, signed_at
    )


def terms_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()
