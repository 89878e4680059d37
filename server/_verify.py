"""The server's only use of crypto/: signature, certificate and envelope checks, as booleans and typed facts.

Server code calls these and never imports ``crypto`` elsewhere, so the dependency stays one small seam.
Every signed message is built by ``crypto.signed`` (docs/PROTOCOL.md section 16.1), the same module the
SDK signs with.
"""

from __future__ import annotations

from crypto.certificate import DeviceCertificate
from crypto.envelope import EnvelopeInfo, peek
from crypto.errors import CryptoError
from crypto.keys import IdentityPublicKey, X25519PublicKey, verify_signature, verify_signed_prekey
from crypto.linking import link_id as _link_id
from crypto.signed import auth_message, consent_message

__all__ = [
    "EnvelopeInfo",
    "auth_message",
    "consent_message",
    "is_valid_public_key",
    "link_id",
    "peek_envelope",
    "verify",
    "verify_certificate",
    "verify_prekey",
]


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    try:
        verify_signature(public_key, message, signature)
    except CryptoError:
        return False
    return True


def verify_prekey(identity_key: bytes, key_id: int, public: bytes, signature: bytes) -> bool:
    """True iff the identity key signed this signed prekey (docs/PROTOCOL.md, "Keys")."""
    try:
        verify_signed_prekey(identity_key, key_id, public, signature)
    except CryptoError:
        return False
    return True


def verify_certificate(
    account_key: bytes, account_id: str, device_id: str, identity_key: bytes, certificate: bytes
) -> bool:
    """True iff ``certificate`` is the account key's certificate of exactly this device (section 16.2)."""
    try:
        cert = DeviceCertificate.from_bytes(certificate)
        return cert.is_valid(
            IdentityPublicKey(account_key),
            bytes.fromhex(account_id),
            bytes.fromhex(device_id),
            IdentityPublicKey(identity_key),
        )
    except (CryptoError, ValueError):
        return False


def is_valid_public_key(raw: bytes, *, ed25519: bool) -> bool:
    """A 32-byte key that is a usable point (an Ed25519 key must also map to X25519)."""
    try:
        IdentityPublicKey(raw) if ed25519 else X25519PublicKey(raw)
    except CryptoError:
        return False
    return True


def link_id(link_key: bytes) -> str:
    """The link id a new device's link key names (docs/PROTOCOL.md section 17)."""
    return _link_id(X25519PublicKey(link_key)).hex()


def peek_envelope(raw: bytes) -> EnvelopeInfo:
    """Structural check and addressing of an envelope; raises crypto's UnsupportedVersion, TooLarge or
    MalformedEnvelope (all CryptoError)."""
    return peek(raw)
