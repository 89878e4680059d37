"""The server's only use of crypto/: signature and envelope checks, as booleans and typed facts.

Server code calls these and never imports ``crypto`` elsewhere, so the dependency stays one small seam.
"""

from __future__ import annotations

from crypto.envelope import EnvelopeInfo, peek
from crypto.errors import CryptoError
from crypto.keys import verify_signature, verify_signed_prekey

__all__ = ["EnvelopeInfo", "peek_envelope", "verify", "verify_prekey"]


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


def peek_envelope(raw: bytes) -> EnvelopeInfo:
    """Structural check and addressing of an envelope; raises crypto's UnsupportedVersion, TooLarge or
    MalformedEnvelope (all CryptoError)."""
    return peek(raw)
