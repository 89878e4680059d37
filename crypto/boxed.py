"""Boxed signaling: authenticated encryption of WebRTC SDP / ICE payloads between two identity keys.

    plaintext = version u8 = 1 | call_id 16 | from_device 16 | to_device 16 | seq u64 BE | payload
    boxed     = version u8 = 1 | nonce 24 |
                crypto_box_easy(plaintext, nonce, to.x25519_public, from.x25519_secret)

The context (call, from, to, seq) is inside the box, so the relay can neither swap an SDP (and its DTLS
fingerprint) between calls or devices, nor reflect a message back to its sender (box keys are symmetric,
the from/to ids are not), nor replay it (the receiver requires seq above the last accepted one).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from crypto import primitives as p
from crypto.errors import MalformedEnvelope, ReplayedSignal, TooLarge, UnsupportedVersion, WrongContext
from crypto.keys import IdentityKeyPair, IdentityPublicKey
from crypto.limits import DEVICE_ID_BYTES, MAX_SIGNAL_PLAINTEXT_BYTES

__all__ = ["BOXED_VERSION", "OpenedSignal", "SignalContext", "open", "seal"]

BOXED_VERSION: Final = 1
_CONTEXT_SIZE: Final = 1 + 3 * DEVICE_ID_BYTES + 8
_U64_MAX: Final = 2**64 - 1


@dataclass(frozen=True)
class SignalContext:
    """Which call and direction a signaling payload belongs to (16-byte ids)."""

    call_id: bytes
    from_device: bytes
    to_device: bytes

    def __post_init__(self) -> None:
        for value in (self.call_id, self.from_device, self.to_device):
            if not isinstance(value, bytes) or len(value) != DEVICE_ID_BYTES:
                raise MalformedEnvelope(f"call and device ids are {DEVICE_ID_BYTES} bytes")

    def encode(self, seq: int) -> bytes:
        return (
            bytes([BOXED_VERSION]) + self.call_id + self.from_device + self.to_device + struct.pack(">Q", seq)
        )


@dataclass(frozen=True)
class OpenedSignal:
    seq: int
    payload: bytes


def seal(
    sender: IdentityKeyPair,
    recipient: IdentityPublicKey,
    context: SignalContext,
    seq: int,
    payload: bytes,
    *,
    nonce: bytes | None = None,
) -> bytes:
    """Seal `payload` for `recipient`. `seq` must increase per (call, direction); `nonce` is for vectors."""
    if len(payload) > MAX_SIGNAL_PLAINTEXT_BYTES:
        raise TooLarge(f"signaling payload exceeds {MAX_SIGNAL_PLAINTEXT_BYTES} bytes")
    if not 0 < seq <= _U64_MAX:
        raise ValueError("seq must be a positive 64-bit integer")
    nonce = nonce if nonce is not None else p.random_bytes(p.BOX_NONCE_SIZE)
    box = p.box_seal(
        sender.x25519().secret_bytes(), recipient.to_x25519().to_bytes(), nonce, context.encode(seq) + payload
    )
    return bytes([BOXED_VERSION]) + nonce + box


def open(  # the pair is seal/open, as in libsodium
    recipient: IdentityKeyPair,
    sender: IdentityPublicKey,
    context: SignalContext,
    boxed: bytes,
    last_seq: int = 0,
) -> OpenedSignal:
    """Open a payload the recipient expects in `context`; refuses seq <= `last_seq` (`ReplayedSignal`)."""
    if not boxed:
        raise MalformedEnvelope("boxed signal is empty")
    if boxed[0] != BOXED_VERSION:
        raise UnsupportedVersion(f"boxed signal version {boxed[0]} is not supported")
    if len(boxed) < 1 + p.BOX_NONCE_SIZE + p.BOX_MAC_SIZE + _CONTEXT_SIZE:
        raise MalformedEnvelope("boxed signal is truncated")
    if len(boxed) > 1 + p.BOX_NONCE_SIZE + p.BOX_MAC_SIZE + _CONTEXT_SIZE + MAX_SIGNAL_PLAINTEXT_BYTES:
        raise TooLarge("boxed signal is too large")
    nonce, box = boxed[1 : 1 + p.BOX_NONCE_SIZE], boxed[1 + p.BOX_NONCE_SIZE :]
    plaintext = p.box_open(recipient.x25519().secret_bytes(), sender.to_x25519().to_bytes(), nonce, box)
    if plaintext[0] != BOXED_VERSION:
        raise UnsupportedVersion(f"boxed signal inner version {plaintext[0]} is not supported")
    (seq,) = struct.unpack(">Q", plaintext[_CONTEXT_SIZE - 8 : _CONTEXT_SIZE])
    if not p.constant_time_equal(plaintext[: _CONTEXT_SIZE - 8], context.encode(0)[:-8]):
        raise WrongContext("signal belongs to another call, sender or recipient")
    if seq <= last_seq:
        raise ReplayedSignal("signal sequence number is not above the last accepted one")
    return OpenedSignal(seq, plaintext[_CONTEXT_SIZE:])
