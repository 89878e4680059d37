"""Wrapping a device's keystore bytes with a passphrase (Argon2id + XChaCha20-Poly1305), same in the browser.

    header  = "CFKW" | version u8 = 1 | alg u8 = 2 (Argon2id v1.3) | opslimit u32 BE | memlimit u32 BE (bytes)
              | salt 16 | nonce 24                                                              (54 bytes)
    key     = crypto_pwhash(32, passphrase (UTF-8), salt, opslimit, memlimit, ALG_ARGON2ID13)
    wrapped = header || XChaCha20-Poly1305(key, nonce, keystore, ad = header)

Defaults follow RFC 9106's second recommended option (t = 3, m = 64 MiB, p = 1): about a quarter second
here, acceptable once per unlock, also in a browser. Unwrap refuses costs above MAX_* so that a
hostile blob cannot exhaust the device.
"""

from __future__ import annotations

import struct
from typing import Final

from crypto import primitives as p
from crypto.errors import MalformedState, TooLarge, UnsupportedVersion

__all__ = [
    "DEFAULT_MEMLIMIT",
    "DEFAULT_OPSLIMIT",
    "HEADER_SIZE",
    "KEYWRAP_MAGIC",
    "KEYWRAP_VERSION",
    "MAX_MEMLIMIT",
    "MAX_OPSLIMIT",
    "unwrap",
    "wrap",
]

KEYWRAP_MAGIC: Final = b"CFKW"
KEYWRAP_VERSION: Final = 1
ALG_ARGON2ID13: Final = 2  # libsodium's crypto_pwhash_ALG_ARGON2ID13
DEFAULT_OPSLIMIT: Final = 3
DEFAULT_MEMLIMIT: Final = 64 * 1024 * 1024
MAX_OPSLIMIT: Final = 10
MAX_MEMLIMIT: Final = 1024 * 1024 * 1024
MIN_OPSLIMIT: Final = 1
MIN_MEMLIMIT: Final = 8192
HEADER_SIZE: Final = 4 + 1 + 1 + 4 + 4 + p.PWHASH_SALT_SIZE + p.AEAD_NONCE_SIZE


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    return passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase


def _check_costs(opslimit: int, memlimit: int) -> None:
    if not MIN_OPSLIMIT <= opslimit <= MAX_OPSLIMIT or not MIN_MEMLIMIT <= memlimit <= MAX_MEMLIMIT:
        raise TooLarge("Argon2id cost parameters out of the accepted range")


def wrap(
    passphrase: str | bytes,
    keystore: bytes,
    *,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Encrypt `keystore` under a passphrase. `salt` and `nonce` are for vectors only."""
    _check_costs(opslimit, memlimit)
    salt = salt if salt is not None else p.random_bytes(p.PWHASH_SALT_SIZE)
    nonce = nonce if nonce is not None else p.random_bytes(p.AEAD_NONCE_SIZE)
    if len(salt) != p.PWHASH_SALT_SIZE or len(nonce) != p.AEAD_NONCE_SIZE:
        raise ValueError("salt is 16 bytes and nonce 24 bytes")
    header = (
        KEYWRAP_MAGIC
        + struct.pack(">BBII", KEYWRAP_VERSION, ALG_ARGON2ID13, opslimit, memlimit)
        + salt
        + nonce
    )
    key = p.argon2id(_passphrase_bytes(passphrase), salt, opslimit, memlimit)
    return header + p.aead_encrypt(key, nonce, keystore, header)


def unwrap(passphrase: str | bytes, wrapped: bytes) -> bytes:
    """Decrypt a wrapped keystore; a wrong passphrase or any modification raises `DecryptionFailed`."""
    if len(wrapped) < HEADER_SIZE + p.AEAD_TAG_SIZE or wrapped[:4] != KEYWRAP_MAGIC:
        raise MalformedState("not a wrapped keystore")
    version, alg, opslimit, memlimit = struct.unpack(">BBII", wrapped[4:14])
    if version != KEYWRAP_VERSION or alg != ALG_ARGON2ID13:
        raise UnsupportedVersion(f"keystore wrapping version {version} / algorithm {alg} is not supported")
    _check_costs(opslimit, memlimit)
    header = wrapped[:HEADER_SIZE]
    salt, nonce = header[14:30], header[30:]
    key = p.argon2id(_passphrase_bytes(passphrase), salt, opslimit, memlimit)
    return p.aead_decrypt(key, nonce, wrapped[HEADER_SIZE:], header)
