"""Key material <-> the JSON shapes of docs/API.md (device payloads, bundles, auth and consent messages)."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from client._wire import b64d, b64e
from crypto import (
    IdentityKeyPair,
    IdentityPublicKey,
    OneTimePreKey,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKey,
    SignedPreKeyPair,
    X25519PublicKey,
)

__all__ = ["auth_message", "bundle_from_wire", "consent_message", "device_payload", "otk_wire", "spk_wire"]

AUTH_CONTEXT = b"confidant-auth-v1"
CONSENT_CONTEXT = b"confidant-consent-v1"


def spk_wire(spk: SignedPreKeyPair) -> dict[str, Any]:
    return {
        "id": spk.key_id,
        "public": b64e(spk.key_pair.public.to_bytes()),
        "signature": b64e(spk.signature),
    }


def otk_wire(otk: OneTimePreKeyPair) -> dict[str, Any]:
    return {"id": otk.key_id, "public": b64e(otk.key_pair.public.to_bytes())}


def device_payload(
    identity: IdentityKeyPair, spk: SignedPreKeyPair, otks: list[OneTimePreKeyPair]
) -> dict[str, Any]:
    return {
        "identity_key": b64e(identity.public.to_bytes()),
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
    return AUTH_CONTEXT + nonce + bytes.fromhex(device_id)


def consent_message(
    therapist_id: str, client_id: str, version: int, terms_hash: bytes, signed_at: int
) -> bytes:
    return (
        CONSENT_CONTEXT
        + bytes.fromhex(therapist_id)
        + bytes.fromhex(client_id)
        + struct.pack(">I", version)
        + terms_hash
        + struct.pack(">Q", signed_at)
    )


def terms_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()
