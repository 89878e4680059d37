"""Every message that Confidant signs, built in one place (docs/PROTOCOL.md section 16.1).

The server (to verify) and the SDK (to sign) call these; the browser reproduces them byte for byte
(tests/vectors/signed.json). Each starts with its own context string, so a signature made for one purpose
never verifies for another. Integers are big-endian.

    auth_message          "confidant-auth-v1" || nonce 32 || device_id 16
    consent_message       "confidant-consent-v1" || therapist_id 16 || client_id 16 || version u32 ||
                          terms_hash 32 || signed_at u64
    signed_prekey_message "confidant-signed-prekey-v1" || id u32 || public 32
    certificate_message   "confidant-device-certificate-v2" || account_id 16 || device_id 16 ||
                          identity_key 32 || created_at u64
"""

from __future__ import annotations

import struct
from typing import Final

from crypto.errors import InvalidKey, MalformedEnvelope

__all__ = [
    "AUTH_CONTEXT",
    "CERTIFICATE_CONTEXT",
    "CONSENT_CONTEXT",
    "SIGNED_PREKEY_CONTEXT",
    "auth_message",
    "certificate_message",
    "consent_message",
    "signed_prekey_message",
]

AUTH_CONTEXT: Final = b"confidant-auth-v1"
CONSENT_CONTEXT: Final = b"confidant-consent-v1"
SIGNED_PREKEY_CONTEXT: Final = b"confidant-signed-prekey-v1"
CERTIFICATE_CONTEXT: Final = b"confidant-device-certificate-v2"

_ID_BYTES: Final = 16
_KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 32
_HASH_BYTES: Final = 32
_U32_MAX: Final = 0xFFFFFFFF
_U64_MAX: Final = 0xFFFFFFFFFFFFFFFF


def _sized(value: bytes, size: int, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise MalformedEnvelope(f"{what} must be {size} bytes")
    return value


def _uint(value: int, maximum: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise MalformedEnvelope(f"{what} is out of range")
    return value


def auth_message(nonce: bytes, device_id: bytes) -> bytes:
    """What a device signs to log in (challenge-response)."""
    return AUTH_CONTEXT + _sized(nonce, _NONCE_BYTES, "nonce") + _sized(device_id, _ID_BYTES, "device id")


def consent_message(
    therapist_id: bytes, client_id: bytes, version: int, terms_hash: bytes, signed_at: int
) -> bytes:
    """What a client device signs to accept a therapist's terms."""
    return (
        CONSENT_CONTEXT
        + _sized(therapist_id, _ID_BYTES, "therapist id")
        + _sized(client_id, _ID_BYTES, "client id")
        + struct.pack(">I", _uint(version, _U32_MAX, "terms version"))
        + _sized(terms_hash, _HASH_BYTES, "terms hash")
        + struct.pack(">Q", _uint(signed_at, _U64_MAX, "signed_at"))
    )


def signed_prekey_message(key_id: int, public: bytes) -> bytes:
    """What the identity key signs for a signed prekey: context || id (u32 BE) || X25519 public (32)."""
    if not isinstance(key_id, int) or not 0 <= key_id <= _U32_MAX:
        raise InvalidKey("prekey id must be an unsigned 32-bit integer")
    if not isinstance(public, bytes) or len(public) != _KEY_BYTES:
        raise InvalidKey("signed prekey must be 32 bytes")
    return SIGNED_PREKEY_CONTEXT + struct.pack(">I", key_id) + public


def certificate_message(account_id: bytes, device_id: bytes, identity_key: bytes, created_at: int) -> bytes:
    """What the account key signs to certify a device (docs/PROTOCOL.md section 16.2)."""
    return (
        CERTIFICATE_CONTEXT
        + _sized(account_id, _ID_BYTES, "account id")
        + _sized(device_id, _ID_BYTES, "device id")
        + _sized(identity_key, _KEY_BYTES, "identity key")
        + struct.pack(">Q", _uint(created_at, _U64_MAX, "created_at"))
    )
