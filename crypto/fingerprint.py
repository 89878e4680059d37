"""Safety numbers over ACCOUNT keys, and the invitation fingerprint (docs/PROTOCOL.md sections 10, 18).

In the style of Signal's NumericFingerprintGenerator (fingerprint version 2, 5200 iterations):
    h = SHA-512(0x0002 || Encode(AK) || account_id);  5200 times: h = SHA-512(h || Encode(AK))
    30 digits per party: for each of six 5-byte chunks of h, (u40 BE) mod 100000, zero-padded to 5 digits.
    safety number = the two 30-digit strings sorted and concatenated (60 digits, order-independent).
QR payload (65 bytes): 0x02 || h[0:32] of the party whose digits sort first || h[0:32] of the other.
One number per contact: it covers every device the account key certifies, and does not change when
devices come and go.

Invitation fingerprint (URL fragment of an invitation link, appended by the inviter's client):
    SHA-256("confidant-invite-fp-v2" || account_id 16 || account_key 32)[0:16], base64url without padding.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from crypto import primitives as p
from crypto.errors import MalformedEnvelope, UnsupportedVersion
from crypto.keys import IdentityPublicKey
from crypto.limits import DEVICE_ID_BYTES

__all__ = [
    "FINGERPRINT_ITERATIONS",
    "QR_VERSION",
    "format_safety_number",
    "invitation_fingerprint",
    "invitation_fingerprint_text",
    "parse_invitation_fingerprint",
    "party_fingerprint",
    "qr_payload",
    "safety_number",
    "verify_invitation_fingerprint",
    "verify_qr_payload",
]

FINGERPRINT_VERSION: Final = b"\x00\x02"
FINGERPRINT_ITERATIONS: Final = 5200
QR_VERSION: Final = 2
INVITE_CONTEXT: Final = b"confidant-invite-fp-v2"
INVITE_FINGERPRINT_BYTES: Final = 16
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


def invitation_fingerprint(account_key: IdentityPublicKey, account_id: bytes) -> bytes:
    """16 bytes binding the inviter's account id and account key (docs/PROTOCOL.md section 18)."""
    if len(account_id) != DEVICE_ID_BYTES:
        raise MalformedEnvelope(f"account ids are {DEVICE_ID_BYTES} bytes")
    return p.sha256(INVITE_CONTEXT + account_id + account_key.to_bytes())[:INVITE_FINGERPRINT_BYTES]


def invitation_fingerprint_text(account_key: IdentityPublicKey, account_id: bytes) -> str:
    """The URL fragment form: base64url without padding (22 characters)."""
    raw = invitation_fingerprint(account_key, account_id)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def parse_invitation_fingerprint(text: str) -> bytes:
    if len(text) != 22 or not all(c.isalnum() or c in "-_" for c in text):
        raise MalformedEnvelope("an invitation fingerprint is 22 base64url characters")
    try:
        raw = base64.urlsafe_b64decode(text + "==")
    except (binascii.Error, ValueError):
        raise MalformedEnvelope("an invitation fingerprint is 22 base64url characters") from None
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != text:
        raise MalformedEnvelope("an invitation fingerprint is not canonical")
    return raw


def verify_invitation_fingerprint(text: str, account_key: IdentityPublicKey, account_id: bytes) -> bool:
    """True if the fingerprint from the invitation link matches this account key (constant time)."""
    return p.constant_time_equal(
        parse_invitation_fingerprint(text), invitation_fingerprint(account_key, account_id)
    )
