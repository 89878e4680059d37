"""The message envelope: what one device sends another, opaque to the server except for its addressing.

Layout, version 1 (integers big-endian; sizes in bytes):

    offset  size  field
    0       1     version            = 0x01 (anything else: UnsupportedVersion)
    1       1     type               0x01 = prekey message, 0x02 = normal message
    2       16    sender_device      the sending device's id
    18      16    recipient_device   the receiving device's id
    -- prekey messages only (73 bytes): the X3DH initial message --
    34      32    identity_key       sender's Ed25519 identity public key
    66      32    ephemeral_key      X3DH ephemeral X25519 public key EK_A
    98      4     signed_prekey_id   u32
    102     1     has_one_time_prekey  0x00 or 0x01
    103     4     one_time_prekey_id u32 (must be 0 when has_one_time_prekey is 0)
    -- all messages --
    +0      40    ratchet header     dh (32) | pn u32 | n u32
    +40     rest  ciphertext         XChaCha20-Poly1305 output; length = 16 + a non-zero multiple of 160

Everything before the ratchet header ("the binding": version, type, both device ids and, for prekey
messages, the initial message) is part of the AEAD associated data, which is
    X3DH AD (66) || binding || ratchet header (40)
so a relay that re-addresses or re-types an envelope makes decryption fail, and the recipient checks
`recipient_device` itself first (`WrongRecipient`). The whole envelope is at most MAX_ENVELOPE_BYTES.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from crypto.errors import CryptoError, MalformedEnvelope, TooLarge, UnsupportedVersion
from crypto.keys import IdentityPublicKey, X25519PublicKey
from crypto.limits import DEVICE_ID_BYTES, MAX_ENVELOPE_BYTES, PADDING_BLOCK_BYTES
from crypto.ratchet import HEADER_SIZE, Header
from crypto.x3dh import InitialMessage

__all__ = [
    "ENVELOPE_VERSION",
    "INITIAL_MESSAGE_SIZE",
    "Envelope",
    "EnvelopeInfo",
    "EnvelopeType",
    "addressing",
    "decode_initial_message",
    "encode_binding",
    "encode_initial_message",
    "parse",
    "peek",
]

ENVELOPE_VERSION: Final = 1
INITIAL_MESSAGE_SIZE: Final = 32 + 32 + 4 + 1 + 4
_ADDRESS_END: Final = 2 + 2 * DEVICE_ID_BYTES
_TAG_SIZE: Final = 16


class EnvelopeType(IntEnum):
    PREKEY = 1
    MESSAGE = 2

    @property
    def wire_name(self) -> str:
        """The name used in the server's JSON (`"prekey"` or `"message"`)."""
        return "prekey" if self is EnvelopeType.PREKEY else "message"


@dataclass(frozen=True)
class EnvelopeInfo:
    """What `peek` reveals without any key: enough for the server to route and check addressing."""

    version: int
    type: EnvelopeType
    sender_device: bytes
    recipient_device: bytes


def encode_initial_message(m: InitialMessage) -> bytes:
    has = m.one_time_prekey_id is not None
    return (
        m.identity_key.to_bytes()
        + m.ephemeral_key.to_bytes()
        + struct.pack(">IBI", m.signed_prekey_id, int(has), m.one_time_prekey_id or 0)
    )


def decode_initial_message(raw: bytes) -> InitialMessage:
    if len(raw) != INITIAL_MESSAGE_SIZE:
        raise MalformedEnvelope("initial message has the wrong size")
    spk_id, has, otpk_id = struct.unpack(">IBI", raw[64:])
    if has not in (0, 1) or (has == 0 and otpk_id != 0):
        raise MalformedEnvelope("invalid one-time prekey field")
    try:
        ik = IdentityPublicKey(raw[:32])
        ek = X25519PublicKey(raw[32:64])
    except CryptoError:
        raise MalformedEnvelope("initial message holds an invalid key") from None
    return InitialMessage(ik, ek, spk_id, otpk_id if has else None)


def _check_device_id(device_id: bytes, what: str) -> None:
    if not isinstance(device_id, bytes) or len(device_id) != DEVICE_ID_BYTES:
        raise MalformedEnvelope(f"{what} must be {DEVICE_ID_BYTES} bytes")


@dataclass(frozen=True)
class Envelope:
    type: EnvelopeType
    sender_device: bytes
    recipient_device: bytes
    initial_message: InitialMessage | None
    header: Header
    ciphertext: bytes
    version: int = ENVELOPE_VERSION

    def binding(self) -> bytes:
        """The bytes before the ratchet header; bound into the AEAD associated data."""
        return encode_binding(self.type, self.sender_device, self.recipient_device, self.initial_message)

    def to_bytes(self) -> bytes:
        out = self.binding() + self.header.to_bytes() + self.ciphertext
        if len(out) > MAX_ENVELOPE_BYTES:
            raise TooLarge(f"envelope exceeds {MAX_ENVELOPE_BYTES} bytes")
        return out


def encode_binding(
    type_: EnvelopeType, sender: bytes, recipient: bytes, initial_message: InitialMessage | None
) -> bytes:
    _check_device_id(sender, "sender device id")
    _check_device_id(recipient, "recipient device id")
    if (type_ is EnvelopeType.PREKEY) != (initial_message is not None):
        raise MalformedEnvelope("prekey messages, and only they, carry an initial message")
    out = bytes([ENVELOPE_VERSION, type_]) + sender + recipient
    return out if initial_message is None else out + encode_initial_message(initial_message)


def _addressing(raw: bytes) -> EnvelopeInfo:
    if not isinstance(raw, bytes | bytearray):
        raise MalformedEnvelope("envelope must be bytes")
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise TooLarge(f"envelope exceeds {MAX_ENVELOPE_BYTES} bytes")
    if len(raw) < 1:
        raise MalformedEnvelope("envelope is empty")
    if raw[0] != ENVELOPE_VERSION:
        raise UnsupportedVersion(f"envelope version {raw[0]} is not supported")
    if len(raw) < _ADDRESS_END:
        raise MalformedEnvelope("envelope is truncated")
    try:
        type_ = EnvelopeType(raw[1])
    except ValueError:
        raise MalformedEnvelope("unknown envelope type") from None
    return EnvelopeInfo(raw[0], type_, bytes(raw[2:18]), bytes(raw[18:_ADDRESS_END]))


def parse(raw: bytes) -> Envelope:
    """Strictly parse an envelope. Raises `UnsupportedVersion`, `MalformedEnvelope` or `TooLarge`."""
    info = _addressing(raw)
    raw = bytes(raw)
    pos = _ADDRESS_END
    initial = None
    if info.type is EnvelopeType.PREKEY:
        initial = decode_initial_message(raw[pos : pos + INITIAL_MESSAGE_SIZE])
        pos += INITIAL_MESSAGE_SIZE
    header_raw = raw[pos : pos + HEADER_SIZE]
    if len(header_raw) != HEADER_SIZE:
        raise MalformedEnvelope("envelope is truncated")
    try:
        header = Header.from_bytes(header_raw)
    except CryptoError:
        raise MalformedEnvelope("ratchet header holds an invalid key") from None
    ciphertext = raw[pos + HEADER_SIZE :]
    body = len(ciphertext) - _TAG_SIZE
    if body < PADDING_BLOCK_BYTES or body % PADDING_BLOCK_BYTES:
        raise MalformedEnvelope("ciphertext length is not a padded length")
    return Envelope(info.type, info.sender_device, info.recipient_device, initial, header, ciphertext)


def addressing(raw: bytes) -> EnvelopeInfo:
    """Version, type, sender and recipient from the fixed prefix only, without validating the keys that
    follow (no curve arithmetic): what a recipient checks before choosing a session, whose ``decrypt``
    then parses the whole envelope. Raises like `parse` on a bad prefix."""
    return _addressing(raw)


def peek(raw: bytes) -> EnvelopeInfo:
    """Version, type, sender and recipient of a well-formed envelope, without decrypting it.

    The whole envelope is validated structurally (same errors as `parse`).
    """
    env = parse(raw)
    return EnvelopeInfo(env.version, env.type, env.sender_device, env.recipient_device)
