"""Ed25519 signature verification for the server.

TODO(crypto): replace the body with ``crypto.keys`` verification once it lands; callers only use ``verify``.
"""

from __future__ import annotations

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

__all__ = ["verify"]


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, CryptoError, ValueError, TypeError):
        return False
    return True
