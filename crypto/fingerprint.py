"""Safety numbers: what two people compare (or scan) to verify each other's identity keys.

In the style of Signal's NumericFingerprintGenerator (version 0, 5200 iterations):
    h = SHA-512(0x0000 || Encode(IK) || account_id);  5200 times: h = SHA-512(h || Encode(IK))
    30 digits per party: for each of six 5-byte chunks of h, (u40 BE) mod 100000, zero-padded to 5 digits.
    safety number = the two 30-digit strings sorted and concatenated (60 digits, order-independent).
QR payload (65 bytes): 0x01 || h[0:32] of the party whose digits sort first || h[0:32] of the other.
"""

from __future__ import annotations

from typing import Final

from crypto import primitives as p
from crypto.errors import MalformedEnvelope, UnsupportedVersion
from crypto.keys import IdentityPublicKey
from crypto.limits import DEVICE_ID_BYTES

__all__ = [
    "FINGERPRINT_ITERATIONS",
    "QR_VERSION",
    "format_safety_number",
    "party_fingerprint",
    "qr_payload",
    "safety_number",
    "verify_qr_payload",
]

FINGERPRINT_VERSION: Final = b"\x00\x00"
FINGERPRINT_ITERATIONS: Final = 5200
QR_VERSION: Final = 1
QR_SIZE: Final = 1 + 32 + 32


def party_fingerprint(identity_key: IdentityPublicKey, account_id: bytes) -> bytes:
    """The iterated SHA-512 hash (64 bytes) for one party."""
    if len(account_id) != DEVICE_ID_BYTES:
        raise MalformedEnvelope(f"account ids are {DEVICE_ID_BYTES} bytes")
    key = identity_key.encode()
    h = p.sha512(FINGERPRINT_VERSION + key + account_id)
    for _ in range(FINGERPRINT_ITERATIONS):
        h = p.sha512(h + key)
    return h


def _digits(h: bytes) -> str:
    return "".join(f"{int.from_bytes(h[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5))


def _ordered(a: IdentityPublicKey, a_id: bytes, b: IdentityPublicKey, b_id: bytes) -> list[tuple[str, bytes]]:
    parties = [(party_fingerprint(a, a_id), 0), (party_fingerprint(b, b_id), 1)]
    return sorted((_digits(h), h) for h, _ in parties)


def safety_number(
    local_key: IdentityPublicKey, local_account: bytes, remote_key: IdentityPublicKey, remote_account: bytes
) -> str:
    """60 digits, identical on both sides."""
    return "".join(d for d, _ in _ordered(local_key, local_account, remote_key, remote_account))


def format_safety_number(number: str) -> str:
    """12 groups of 5 digits, for display."""
    return " ".join(number[i : i + 5] for i in range(0, len(number), 5))


def qr_payload(
    local_key: IdentityPublicKey, local_account: bytes, remote_key: IdentityPublicKey, remote_account: bytes
) -> bytes:
    ordered = _ordered(local_key, local_account, remote_key, remote_account)
    return bytes([QR_VERSION]) + ordered[0][1][:32] + ordered[1][1][:32]


def verify_qr_payload(
    scanned: bytes,
    local_key: IdentityPublicKey,
    local_account: bytes,
    remote_key: IdentityPublicKey,
    remote_account: bytes,
) -> bool:
    """True if the scanned payload matches the keys this device has for both parties."""
    if not scanned:
        raise MalformedEnvelope("QR payload is empty")
    if scanned[0] != QR_VERSION:
        raise UnsupportedVersion(f"QR payload version {scanned[0]} is not supported")
    if len(scanned) != QR_SIZE:
        raise MalformedEnvelope("QR payload has the wrong size")
    return p.constant_time_equal(scanned, qr_payload(local_key, local_account, remote_key, remote_account))
