"""Primitive operations: the only module that imports `nacl`.

Bytes in, bytes out; every length is checked against a named constant and every failure is a
`CryptoError`. HKDF and HMAC come from the standard library (RFC 5869 / RFC 2104 over SHA-256),
exactly what the browser gets from WebCrypto and libsodium's `crypto_auth_hmacsha256`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final

import nacl.bindings as _sodium
import nacl.exceptions as _nacl_exc

from crypto.errors import BadSignature, DecryptionFailed, InvalidKey, StreamTruncated, TooLarge

__all__ = [
    "AEAD_KEY_SIZE",
    "AEAD_NONCE_SIZE",
    "AEAD_TAG_SIZE",
    "BOX_MAC_SIZE",
    "BOX_NONCE_SIZE",
    "ED25519_PUBLIC_SIZE",
    "ED25519_SECRET_SIZE",
    "ED25519_SEED_SIZE",
    "ED25519_SIGNATURE_SIZE",
    "HASH_SIZE",
    "PWHASH_SALT_SIZE",
    "SECRETSTREAM_ABYTES",
    "SECRETSTREAM_HEADER_SIZE",
    "SECRETSTREAM_KEY_SIZE",
    "SECRETSTREAM_TAG_FINAL",
    "SECRETSTREAM_TAG_MESSAGE",
    "X25519_PUBLIC_SIZE",
    "X25519_SECRET_SIZE",
    "Blake2b",
    "PullStream",
    "PushStream",
    "aead_decrypt",
    "aead_encrypt",
    "argon2id",
    "blake2b",
    "box_open",
    "box_seal",
    "constant_time_equal",
    "ed25519_public_to_x25519",
    "ed25519_seed_keypair",
    "ed25519_seed_to_x25519",
    "ed25519_sign",
    "ed25519_verify",
    "hkdf_sha256",
    "hmac_sha256",
    "random_bytes",
    "sha256",
    "sha512",
    "x25519",
    "x25519_public",
]

X25519_PUBLIC_SIZE: Final = 32
X25519_SECRET_SIZE: Final = 32
ED25519_PUBLIC_SIZE: Final = 32
ED25519_SEED_SIZE: Final = 32
ED25519_SECRET_SIZE: Final = 64
ED25519_SIGNATURE_SIZE: Final = 64
AEAD_KEY_SIZE: Final = 32
AEAD_NONCE_SIZE: Final = 24
AEAD_TAG_SIZE: Final = 16
HASH_SIZE: Final = 32
BOX_NONCE_SIZE: Final = 24
BOX_MAC_SIZE: Final = 16
PWHASH_SALT_SIZE: Final = 16
SECRETSTREAM_KEY_SIZE: Final = 32
SECRETSTREAM_HEADER_SIZE: Final = 24
SECRETSTREAM_ABYTES: Final = 17
SECRETSTREAM_TAG_MESSAGE: Final = 0
SECRETSTREAM_TAG_FINAL: Final = 3

_ARGON2ID: Final = _sodium.crypto_pwhash_ALG_ARGON2ID13


def _check(value: bytes, size: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise InvalidKey(f"{what} must be {size} bytes")


def random_bytes(size: int) -> bytes:
    """`size` bytes from the operating system's CSPRNG."""
    return os.urandom(size)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


# --- hashes, MAC, KDF ---------------------------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def blake2b(data: bytes, size: int = 32, key: bytes = b"") -> bytes:
    """BLAKE2b (libsodium `crypto_generichash`, same bytes) with an optional key.

    hashlib's BLAKE2b: the binding's per-call parameter checks cost 8x the hash of a short input (the
    keystore names every record with it); the same limits are checked here."""
    if not _sodium.crypto_generichash_BYTES_MIN <= size <= _sodium.crypto_generichash_BYTES_MAX:
        raise ValueError("BLAKE2b output size out of range")
    if len(key) > _sodium.crypto_generichash_KEYBYTES_MAX:
        raise ValueError("BLAKE2b key too long")
    return hashlib.blake2b(data, digest_size=size, key=key).digest()


class Blake2b:
    """Incremental unkeyed BLAKE2b (= libsodium `crypto_generichash_init/update/final`)."""

    def __init__(self, size: int = 32) -> None:
        self._h = hashlib.blake2b(digest_size=size)

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.digest()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF-SHA256. An empty salt means HashLen zero bytes, as in the RFC."""
    if not 0 < length <= 255 * HASH_SIZE:
        raise ValueError("HKDF output length out of range")
    prk = hmac_sha256(salt or bytes(HASH_SIZE), ikm)
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac_sha256(prk, block + info + bytes([counter]))
        okm += block
        counter += 1
    return okm[:length]


# --- X25519 / Ed25519 ---------------------------------------------------------------------------------


def x25519_public(secret: bytes) -> bytes:
    _check(secret, X25519_SECRET_SIZE, "X25519 secret key")
    return bytes(_sodium.crypto_scalarmult_base(secret))


def x25519(secret: bytes, public: bytes) -> bytes:
    """X25519 Diffie-Hellman. A low-order public key (all-zero output) raises `InvalidKey`."""
    _check(secret, X25519_SECRET_SIZE, "X25519 secret key")
    _check(public, X25519_PUBLIC_SIZE, "X25519 public key")
    try:
        return bytes(_sodium.crypto_scalarmult(secret, public))
    except _nacl_exc.RuntimeError:
        raise InvalidKey("X25519 public key has low order") from None


def ed25519_seed_keypair(seed: bytes) -> tuple[bytes, bytes]:
    """(public key, 64-byte secret key) from a 32-byte seed."""
    _check(seed, ED25519_SEED_SIZE, "Ed25519 seed")
    pk, sk = _sodium.crypto_sign_seed_keypair(seed)
    return bytes(pk), bytes(sk)


def ed25519_sign(secret_key: bytes, message: bytes) -> bytes:
    _check(secret_key, ED25519_SECRET_SIZE, "Ed25519 secret key")
    return bytes(_sodium.crypto_sign(message, secret_key))[:ED25519_SIGNATURE_SIZE]


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise `BadSignature` unless `signature` is a valid Ed25519 signature of `message` by `public_key`."""
    _check(public_key, ED25519_PUBLIC_SIZE, "Ed25519 public key")
    if not isinstance(signature, bytes) or len(signature) != ED25519_SIGNATURE_SIZE:
        raise BadSignature(f"signature must be {ED25519_SIGNATURE_SIZE} bytes")
    try:
        _sodium.crypto_sign_open(signature + message, public_key)
    except (_nacl_exc.BadSignatureError, _nacl_exc.RuntimeError, _nacl_exc.ValueError):
        raise BadSignature("signature does not verify") from None


def ed25519_public_to_x25519(public_key: bytes) -> bytes:
    """Birational map of an Ed25519 public key to its X25519 form; invalid points raise `InvalidKey`."""
    _check(public_key, ED25519_PUBLIC_SIZE, "Ed25519 public key")
    try:
        return bytes(_sodium.crypto_sign_ed25519_pk_to_curve25519(public_key))
    except (_nacl_exc.RuntimeError, _nacl_exc.ValueError):
        raise InvalidKey("Ed25519 public key is not a valid point") from None


def ed25519_seed_to_x25519(seed: bytes) -> bytes:
    """X25519 secret key matching `ed25519_public_to_x25519` of the seed's public key."""
    _, sk = ed25519_seed_keypair(seed)
    return bytes(_sodium.crypto_sign_ed25519_sk_to_curve25519(sk))


# --- AEAD and box -------------------------------------------------------------------------------------


def aead_encrypt(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """XChaCha20-Poly1305-IETF; returns ciphertext || 16-byte tag."""
    _check(key, AEAD_KEY_SIZE, "AEAD key")
    _check(nonce, AEAD_NONCE_SIZE, "AEAD nonce")
    return bytes(_sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, associated_data, nonce, key))


def aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    _check(key, AEAD_KEY_SIZE, "AEAD key")
    _check(nonce, AEAD_NONCE_SIZE, "AEAD nonce")
    if len(ciphertext) < AEAD_TAG_SIZE:
        raise DecryptionFailed("ciphertext shorter than its tag")
    try:
        return bytes(
            _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, associated_data, nonce, key)
        )
    except _nacl_exc.CryptoError:
        raise DecryptionFailed("message authentication failed") from None


def box_seal(sender_secret: bytes, recipient_public: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    """libsodium `crypto_box_easy` (X25519 + XSalsa20-Poly1305): returns 16-byte MAC || ciphertext."""
    _check(sender_secret, X25519_SECRET_SIZE, "X25519 secret key")
    _check(recipient_public, X25519_PUBLIC_SIZE, "X25519 public key")
    _check(nonce, BOX_NONCE_SIZE, "box nonce")
    try:
        return bytes(_sodium.crypto_box_easy(plaintext, nonce, recipient_public, sender_secret))
    except _nacl_exc.RuntimeError:
        raise InvalidKey("X25519 public key has low order") from None


def box_open(recipient_secret: bytes, sender_public: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    _check(recipient_secret, X25519_SECRET_SIZE, "X25519 secret key")
    _check(sender_public, X25519_PUBLIC_SIZE, "X25519 public key")
    _check(nonce, BOX_NONCE_SIZE, "box nonce")
    if len(ciphertext) < BOX_MAC_SIZE:
        raise DecryptionFailed("ciphertext shorter than its MAC")
    try:
        return bytes(_sodium.crypto_box_open_easy(ciphertext, nonce, sender_public, recipient_secret))
    except _nacl_exc.CryptoError:
        raise DecryptionFailed("message authentication failed") from None


# --- Argon2id -----------------------------------------------------------------------------------------


def argon2id(passphrase: bytes, salt: bytes, opslimit: int, memlimit: int, size: int = 32) -> bytes:
    """libsodium `crypto_pwhash` with ALG_ARGON2ID13 (memlimit in bytes)."""
    _check(salt, PWHASH_SALT_SIZE, "Argon2id salt")
    if opslimit < _sodium.crypto_pwhash_argon2id_OPSLIMIT_MIN:
        raise TooLarge("Argon2id opslimit below libsodium's minimum")
    if memlimit < _sodium.crypto_pwhash_argon2id_MEMLIMIT_MIN:
        raise TooLarge("Argon2id memlimit below libsodium's minimum")
    return bytes(_sodium.crypto_pwhash_alg(size, passphrase, salt, opslimit, memlimit, _ARGON2ID))


# --- secretstream -------------------------------------------------------------------------------------


class PushStream:
    """Encrypting side of libsodium `crypto_secretstream_xchacha20poly1305`.

    With an explicit `header` the stream is deterministic (for known-answer vectors): libsodium's
    init_push and init_pull derive the identical state from (key, header), so the state is set up with
    init_pull and then pushed into; the output is byte-for-byte what init_push would give for that header.
    """

    def __init__(self, key: bytes, header: bytes | None = None) -> None:
        _check(key, SECRETSTREAM_KEY_SIZE, "secretstream key")
        self._state = _sodium.crypto_secretstream_xchacha20poly1305_state()
        if header is None:
            header = random_bytes(SECRETSTREAM_HEADER_SIZE)
        _check(header, SECRETSTREAM_HEADER_SIZE, "secretstream header")
        _sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)
        self.header = header

    def push(self, chunk: bytes, final: bool) -> bytes:
        tag = SECRETSTREAM_TAG_FINAL if final else SECRETSTREAM_TAG_MESSAGE
        return bytes(_sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, None, tag))


class PullStream:
    """Decrypting side; `pull` returns (plaintext chunk, is_final)."""

    def __init__(self, key: bytes, header: bytes) -> None:
        _check(key, SECRETSTREAM_KEY_SIZE, "secretstream key")
        if len(header) != SECRETSTREAM_HEADER_SIZE:
            raise StreamTruncated("stream shorter than its header")
        self._state = _sodium.crypto_secretstream_xchacha20poly1305_state()
        _sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)

    def pull(self, chunk: bytes) -> tuple[bytes, bool]:
        if len(chunk) < SECRETSTREAM_ABYTES:
            raise StreamTruncated("chunk shorter than its overhead")
        try:
            plain, tag = _sodium.crypto_secretstream_xchacha20poly1305_pull(self._state, chunk, None)
        except _nacl_exc.CryptoError:
            raise DecryptionFailed("attachment chunk authentication failed") from None
        if tag not in (SECRETSTREAM_TAG_MESSAGE, SECRETSTREAM_TAG_FINAL):
            raise DecryptionFailed("unexpected secretstream tag")
        return bytes(plain), tag == SECRETSTREAM_TAG_FINAL
