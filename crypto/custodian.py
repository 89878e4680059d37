"""The records custodian (docs/PROTOCOL.md section 24): a therapist's notes also sealed to the practice.

A practice may keep an X25519 **custodian key pair**; its private half stays offline (``confidant custodian
keygen`` makes it). When the administrator configured the public half AND the therapist's terms that the
client accepted disclose that same key (the marker ``confidant-custodian-v1:<key>`` in the text), the
therapist's device seals each note about that client a second time, to the custodian:

    eph         = a fresh X25519 key pair per copy
    key         = HKDF-SHA256(ikm = X25519(eph, custodian), salt = eph_pub || custodian_pub,
                              info = "confidant-custodian-copy-key-v1", L = 32)
    AD          = "confidant-custodian-copy-v1" || account_id 16 || record_id 16 || version u64
                  || custodian_pub 32
    sealed copy = 0x01 || eph_pub 32 || nonce 24 || XChaCha20-Poly1305(key, nonce, kind u8 || pad(body), AD)

The AD binds the copy to the therapist's account, the vault record and its version (as the vault record's
own AD does), and to the custodian key, so a copy cannot be moved to another record or read as written to
another key. Only the offline private key opens it.
"""

from __future__ import annotations

import base64
import re

from crypto import primitives as p
from crypto.errors import DecryptionFailed, InvalidKey, TooLarge, UnsupportedVersion
from crypto.limits import MAX_VAULT_PLAINTEXT_BYTES
from crypto.padding import pad, unpad
from crypto.vault import RecordKind

__all__ = [
    "COPY_VERSION",
    "CUSTODIAN_KEY_BYTES",
    "DISCLOSURE_PREFIX",
    "SECRET_PREFIX",
    "copy_ad",
    "custodian_fingerprint",
    "decode_public_key",
    "decode_secret_key",
    "disclosed_key",
    "disclosure_text",
    "encode_public_key",
    "encode_secret_key",
    "new_custodian_keypair",
    "open_copy",
    "public_key_of",
    "seal_copy",
]

COPY_VERSION = 1  # first byte of a sealed copy
CUSTODIAN_KEY_BYTES = 32
DISCLOSURE_PREFIX = "confidant-custodian-v1:"  # the public key as terms text carries it
SECRET_PREFIX = "confidant-custodian-secret-v1:"  # the offline private key file (one line)

_COPY_KEY_INFO = b"confidant-custodian-copy-key-v1"
_COPY_AD = b"confidant-custodian-copy-v1"
_FINGERPRINT = b"confidant-custodian-fingerprint-v1"
_B64 = r"[A-Za-z0-9_-]{43}"
_DISCLOSED = re.compile(re.escape(DISCLOSURE_PREFIX) + f"({_B64})(?![A-Za-z0-9_-])")
_HEADER = 1 + CUSTODIAN_KEY_BYTES + p.AEAD_NONCE_SIZE


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str, what: str) -> bytes:
    if not re.fullmatch(_B64, text):
        raise InvalidKey(f"{what} must be 43 base64url characters")
    return base64.urlsafe_b64decode(text + "=")


def new_custodian_keypair() -> tuple[bytes, bytes]:
    """(secret, public): the secret goes to the offline file, the public half to the administrator."""
    secret = p.random_bytes(CUSTODIAN_KEY_BYTES)
    return secret, p.x25519_public(secret)


def public_key_of(secret: bytes) -> bytes:
    return p.x25519_public(secret)


def encode_public_key(public: bytes) -> str:
    if len(public) != CUSTODIAN_KEY_BYTES:
        raise InvalidKey("a custodian public key is 32 bytes")
    return DISCLOSURE_PREFIX + _b64(public)


def decode_public_key(text: str) -> bytes:
    """``confidant-custodian-v1:<43 base64url>`` (or the 43 characters alone) -> 32 bytes."""
    text = text.strip()
    return _unb64(text.removeprefix(DISCLOSURE_PREFIX), "a custodian public key")


def encode_secret_key(secret: bytes) -> str:
    if len(secret) != CUSTODIAN_KEY_BYTES:
        raise InvalidKey("a custodian secret key is 32 bytes")
    return SECRET_PREFIX + _b64(secret)


def decode_secret_key(text: str) -> bytes:
    text = text.strip()
    if not text.startswith(SECRET_PREFIX):
        raise InvalidKey("not a custodian secret key file")
    return _unb64(text.removeprefix(SECRET_PREFIX), "a custodian secret key")


def custodian_fingerprint(public: bytes) -> str:
    """20 hex digits in groups of 4, for people to compare (terms, admin screen, keygen output)."""
    digest = p.sha256(_FINGERPRINT + public)[:10].hex()
    return " ".join(digest[i : i + 4] for i in range(0, 20, 4))


def disclosure_text(public: bytes) -> str:
    """The paragraph a therapist adds to their terms (the SDK and the browser write the same words)."""
    return (
        "Records custodian: if I leave the practice, the practice keeps my notes about you for its legal "
        "duty to keep records. Each note is also encrypted to the practice's records custodian key "
        f"(fingerprint {custodian_fingerprint(public)}), whose private half the practice keeps offline; "
        f"no one else, not the server, can open these copies. Key: {encode_public_key(public)}"
    )


def disclosed_key(terms_text: str) -> bytes | None:
    """The custodian key these terms disclose; None when they disclose none, or two different ones."""
    keys = {_unb64(m.group(1), "a disclosed custodian key") for m in _DISCLOSED.finditer(terms_text)}
    return keys.pop() if len(keys) == 1 else None


def copy_ad(account_id: bytes, record_id: bytes, version: int, custodian: bytes) -> bytes:
    if len(account_id) != 16 or len(record_id) != 16:
        raise InvalidKey("account and record ids must be 16 bytes")
    if len(custodian) != CUSTODIAN_KEY_BYTES:
        raise InvalidKey("a custodian public key is 32 bytes")
    if not 1 <= version < 2**63:
        raise InvalidKey("record version out of range")
    return _COPY_AD + account_id + record_id + version.to_bytes(8, "big") + custodian


def _copy_key(shared: bytes, ephemeral: bytes, custodian: bytes) -> bytes:
    return p.hkdf_sha256(shared, ephemeral + custodian, _COPY_KEY_INFO, 32)


def seal_copy(
    custodian: bytes,
    account_id: bytes,
    record_id: bytes,
    version: int,
    kind: RecordKind,
    body: bytes,
    *,
    ephemeral_secret: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """The custodian's copy of the record ``version`` (the same version its vault record has)."""
    if len(body) > MAX_VAULT_PLAINTEXT_BYTES:
        raise TooLarge("vault record body too large")
    ad = copy_ad(account_id, record_id, version, custodian)
    secret = p.random_bytes(CUSTODIAN_KEY_BYTES) if ephemeral_secret is None else ephemeral_secret
    ephemeral = p.x25519_public(secret)
    key = _copy_key(p.x25519(secret, custodian), ephemeral, custodian)
    nonce = p.random_bytes(p.AEAD_NONCE_SIZE) if nonce is None else nonce
    plaintext = bytes([RecordKind(kind)]) + pad(body)
    return bytes([COPY_VERSION]) + ephemeral + nonce + p.aead_encrypt(key, nonce, plaintext, ad)


def open_copy(
    secret: bytes, account_id: bytes, record_id: bytes, version: int, sealed: bytes
) -> tuple[RecordKind, bytes]:
    """(kind, body) with the offline key; DecryptionFailed for another key, account, record or version."""
    if not sealed or sealed[0] != COPY_VERSION:
        raise UnsupportedVersion("unknown custodian copy version")
    if len(sealed) < _HEADER + p.AEAD_TAG_SIZE:
        raise DecryptionFailed("custodian copy too short")
    custodian = p.x25519_public(secret)
    ephemeral, nonce = sealed[1 : 1 + CUSTODIAN_KEY_BYTES], sealed[1 + CUSTODIAN_KEY_BYTES : _HEADER]
    try:
        shared = p.x25519(secret, ephemeral)
    except InvalidKey:
        raise DecryptionFailed("custodian copy has a bad ephemeral key") from None
    key = _copy_key(shared, ephemeral, custodian)
    ad = copy_ad(account_id, record_id, version, custodian)
    plaintext = p.aead_decrypt(key, nonce, sealed[_HEADER:], ad)
    try:
        kind = RecordKind(plaintext[0])
    except ValueError:
        raise DecryptionFailed("unknown record kind") from None
    return kind, unpad(plaintext[1:])
