"""Passphrase wrapping of the keystore's storage key with crypto.keywrap (Argon2id + XChaCha20-Poly1305).

The blob is crypto.keywrap's self-describing format (costs and salt in its header), base64 in the file.
"""

from __future__ import annotations

from client._wire import b64d, b64e
from client.errors import KeystoreError
from crypto import keywrap
from crypto.errors import CryptoError

__all__ = ["KDF_PRESETS", "unwrap", "wrap"]

# (opslimit, memlimit in bytes). "interactive" is crypto.keywrap's default (RFC 9106's second option, about
# a quarter second); "fast" is libsodium's minimum, for throwaway test and benchmark identities only.
KDF_PRESETS = {
    "fast": (1, 8 * 1024 * 1024),
    "interactive": (keywrap.DEFAULT_OPSLIMIT, keywrap.DEFAULT_MEMLIMIT),
}


def wrap(passphrase: str, key: bytes, kdf: str = "interactive") -> str:
    opslimit, memlimit = KDF_PRESETS[kdf]
    return b64e(keywrap.wrap(passphrase, key, opslimit=opslimit, memlimit=memlimit))


def unwrap(passphrase: str, wrapped: str) -> bytes:
    try:
        return keywrap.unwrap(passphrase, b64d(wrapped))
    except (CryptoError, ValueError):
        raise KeystoreError("wrong passphrase or corrupt keystore") from None
