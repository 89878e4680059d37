"""Passphrase wrapping of the keystore's storage key (Argon2id -> XChaCha20-Poly1305).

Interim implementation on crypto.primitives until crypto/keywrap.py lands; the blob is self-describing
(JSON with the KDF parameters) so files written now stay readable.
"""

from __future__ import annotations

import json

from client._wire import b64d, b64e
from client.errors import KeystoreError
from crypto import primitives
from crypto.errors import CryptoError

__all__ = ["unwrap", "wrap"]

_AD = b"confidant-keystore-key-v1"
# (opslimit, memlimit): libsodium's interactive and moderate presets; "fast" is for tests and benchmarks
KDF_PRESETS = {
    "fast": (1, 8 * 1024 * 1024),
    "interactive": (2, 64 * 1024 * 1024),
    "moderate": (3, 256 * 1024 * 1024),
}


def wrap(passphrase: str, key: bytes, kdf: str = "interactive") -> str:
    ops, mem = KDF_PRESETS[kdf]
    salt = primitives.random_bytes(primitives.PWHASH_SALT_SIZE)
    nonce = primitives.random_bytes(primitives.AEAD_NONCE_SIZE)
    kek = primitives.argon2id(passphrase.encode(), salt, ops, mem)
    blob = primitives.aead_encrypt(kek, nonce, key, _AD)
    return json.dumps(
        {
            "kdf": "argon2id13",
            "ops": ops,
            "mem": mem,
            "salt": b64e(salt),
            "nonce": b64e(nonce),
            "ct": b64e(blob),
        },
        separators=(",", ":"),
    )


def unwrap(passphrase: str, wrapped: str) -> bytes:
    try:
        doc = json.loads(wrapped)
        kek = primitives.argon2id(passphrase.encode(), b64d(doc["salt"]), int(doc["ops"]), int(doc["mem"]))
        return primitives.aead_decrypt(kek, b64d(doc["nonce"]), b64d(doc["ct"]), _AD)
    except CryptoError:
        raise KeystoreError("wrong passphrase or corrupt keystore") from None
    except (ValueError, KeyError, TypeError):
        raise KeystoreError("the keystore file is corrupt") from None
