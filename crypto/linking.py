"""Linking a new device from an existing one (docs/PROTOCOL.md section 17).

    link code   = 0x02 || LK_N.public 32               text: RFC 4648 base32, no padding, 53 characters
    link_id     = SHA-256("confidant-link-id-v2" || LK_N.public)[0:16]
    T           = SHA-256("confidant-link-transcript-v2" || link_id || LK_N.public || LK_E.public ||
                          account_id 16 || device_id 16 || identity_key 32)
    okm         = HKDF(ikm = X25519(LK_N, LK_E.public), salt = T, info = "confidant-link-v2", L = 64)
    comparison  = (u40 of okm[0:5]) mod 10^6, 6 digits;   bundle key = okm[32:64]
    account_bundle = 0x02 | account_id 16 | account_seed 32 | cert created_at u64 | cert signature 64 |
                     count u8 | count x (type u8 | length u16 | value)
    sealed_bundle  = 0x02 | nonce 24 | AEAD(bundle key, nonce, account_bundle, ad = T)

A relay that substitutes either link key, the new device's id or key, or the account id makes the two
comparison strings differ (it cannot compute either side's X25519 output, so it cannot search for a match).
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass, field
from typing import Final

from crypto import primitives as p
from crypto.certificate import AccountKeyPair, DeviceCertificate
from crypto.errors import InvalidKey, MalformedEnvelope, MalformedState, TooLarge, UnsupportedVersion
from crypto.keys import IdentityPublicKey, X25519KeyPair, X25519PublicKey
from crypto.limits import LINK_SAS_DIGITS, MAX_ACCOUNT_SECRET_BYTES, MAX_ACCOUNT_SECRETS

__all__ = [
    "LINK_VERSION",
    "SECRET_VAULT_KEY",
    "AccountBundle",
    "LinkKeys",
    "derive_link_keys",
    "encode_link_code",
    "format_link_code",
    "link_id",
    "open_bundle",
    "parse_link_code",
    "seal_bundle",
    "transcript",
]

LINK_VERSION: Final = 2
SECRET_VAULT_KEY: Final = 0x01  # reserved for the account's vault key (not built yet)
LINK_ID_CONTEXT: Final = b"confidant-link-id-v2"
TRANSCRIPT_CONTEXT: Final = b"confidant-link-transcript-v2"
LINK_INFO: Final = b"confidant-link-v2"
_CODE_CHARS: Final = 53
_ID: Final = 16
_LOW_ORDER_PROBE: Final = bytes([9]) + bytes(31)  # any valid scalar: X25519 with it fails on low-order points


def encode_link_code(link_public: X25519PublicKey) -> str:
    """The 53-character text (and QR content) the new device shows."""
    raw = bytes([LINK_VERSION]) + link_public.to_bytes()
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def format_link_code(code: str) -> str:
    """Groups of 4 characters for reading aloud or typing."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def parse_link_code(text: str) -> X25519PublicKey:
    """The new device's link key from a typed or scanned code; spaces and '-' are ignored, case too."""
    cleaned = "".join(ch for ch in text if ch not in " -\t\n").upper()
    if len(cleaned) != _CODE_CHARS:
        raise MalformedEnvelope(f"a link code has {_CODE_CHARS} characters")
    try:
        raw = base64.b32decode(cleaned + "===", casefold=False)
    except (binascii.Error, ValueError):
        raise MalformedEnvelope("a link code uses only A-Z and 2-7") from None
    if len(raw) != 33 or base64.b32encode(raw).decode("ascii").rstrip("=") != cleaned:
        raise MalformedEnvelope("a link code is not canonical base32")
    if raw[0] != LINK_VERSION:
        raise UnsupportedVersion(f"link code version {raw[0]} is not supported")
    key = raw[1:]
    p.x25519(_LOW_ORDER_PROBE, key)  # InvalidKey for an all-zero or low-order key
    return X25519PublicKey(key)


def link_id(link_public: X25519PublicKey) -> bytes:
    return p.sha256(LINK_ID_CONTEXT + link_public.to_bytes())[:_ID]


def transcript(
    new_link_key: X25519PublicKey,
    offer_key: X25519PublicKey,
    account_id: bytes,
    device_id: bytes,
    identity_key: IdentityPublicKey,
) -> bytes:
    """T: everything both devices must agree on, as each of them saw it."""
    if len(account_id) != _ID or len(device_id) != _ID:
        raise MalformedEnvelope("account and device ids are 16 bytes")
    return p.sha256(
        TRANSCRIPT_CONTEXT
        + link_id(new_link_key)
        + new_link_key.to_bytes()
        + offer_key.to_bytes()
        + account_id
        + device_id
        + identity_key.to_bytes()
    )


@dataclass(frozen=True, slots=True)
class LinkKeys:
    comparison: str  # 6 digits, shown as "123 456"
    bundle_key: bytes = field(repr=False)
    transcript: bytes

    def display(self) -> str:
        return f"{self.comparison[:3]} {self.comparison[3:]}"


def derive_link_keys(own: X25519KeyPair, peer: X25519PublicKey, transcript_hash: bytes) -> LinkKeys:
    """Both devices call this with their own link key and the other's; equal inputs give equal outputs."""
    okm = p.hkdf_sha256(own.dh(peer), transcript_hash, LINK_INFO, 64)
    number = int.from_bytes(okm[:5], "big") % 10**LINK_SAS_DIGITS
    return LinkKeys(f"{number:0{LINK_SAS_DIGITS}d}", okm[32:64], transcript_hash)


@dataclass(frozen=True, slots=True)
class AccountBundle:
    """What the existing device hands the new one: the account key, its certificate, the account secrets."""

    account_id: bytes
    account_key: AccountKeyPair = field(repr=False)
    certificate: DeviceCertificate
    secrets: dict[int, bytes] = field(default_factory=dict, repr=False)  # type -> value; unknown kept

    def to_bytes(self) -> bytes:
        if len(self.account_id) != _ID:
            raise MalformedEnvelope("account ids are 16 bytes")
        if len(self.secrets) > MAX_ACCOUNT_SECRETS:
            raise TooLarge(f"at most {MAX_ACCOUNT_SECRETS} account secrets")
        out = (
            bytes([LINK_VERSION])
            + self.account_id
            + self.account_key.to_bytes()
            + self.certificate.to_bytes()
        )
        out += bytes([len(self.secrets)])
        for kind in sorted(self.secrets):
            value = self.secrets[kind]
            if not 0 <= kind <= 0xFF or len(value) > MAX_ACCOUNT_SECRET_BYTES:
                raise TooLarge("an account secret is too large or has a bad type")
            out += bytes([kind]) + struct.pack(">H", len(value)) + value
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> AccountBundle:
        fixed = 1 + _ID + 32 + DeviceCertificate.SIZE + 1
        if len(raw) < fixed:
            raise MalformedState("account bundle is too short")
        if raw[0] != LINK_VERSION:
            raise UnsupportedVersion(f"account bundle version {raw[0]} is not supported")
        account_id, seed = raw[1:17], raw[17:49]
        certificate = DeviceCertificate.from_bytes(raw[49 : 49 + DeviceCertificate.SIZE])
        count = raw[fixed - 1]
        if count > MAX_ACCOUNT_SECRETS:
            raise MalformedState("too many account secrets")
        secrets: dict[int, bytes] = {}
        at, last = fixed, -1
        for _ in range(count):
            if at + 3 > len(raw):
                raise MalformedState("account bundle is truncated")
            kind = raw[at]
            (length,) = struct.unpack(">H", raw[at + 1 : at + 3])
            if kind <= last or length > MAX_ACCOUNT_SECRET_BYTES or at + 3 + length > len(raw):
                raise MalformedState("account secrets are out of order, too large or truncated")
            secrets[kind] = raw[at + 3 : at + 3 + length]
            at, last = at + 3 + length, kind
        if at != len(raw):
            raise MalformedState("account bundle has trailing bytes")
        try:
            account_key = AccountKeyPair(seed)
        except InvalidKey:
            raise MalformedState("account bundle carries an invalid account key") from None
        return cls(account_id, account_key, certificate, secrets)


def seal_bundle(keys: LinkKeys, bundle: AccountBundle, nonce: bytes | None = None) -> bytes:
    n = nonce if nonce is not None else p.random_bytes(p.AEAD_NONCE_SIZE)
    return bytes([LINK_VERSION]) + n + p.aead_encrypt(keys.bundle_key, n, bundle.to_bytes(), keys.transcript)


def open_bundle(keys: LinkKeys, sealed: bytes) -> AccountBundle:
    """`DecryptionFailed` if the bundle was not sealed for this transcript and these link keys."""
    if len(sealed) < 1 + p.AEAD_NONCE_SIZE + p.AEAD_TAG_SIZE:
        raise MalformedEnvelope("sealed account bundle is too short")
    if sealed[0] != LINK_VERSION:
        raise UnsupportedVersion(f"sealed account bundle version {sealed[0]} is not supported")
    nonce, body = sealed[1 : 1 + p.AEAD_NONCE_SIZE], sealed[1 + p.AEAD_NONCE_SIZE :]
    return AccountBundle.from_bytes(p.aead_decrypt(keys.bundle_key, nonce, body, keys.transcript))
