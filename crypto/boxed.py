"""Boxed signaling (version 2): WebRTC SDP / ICE sealed per join with fresh ephemeral keys.

Each time a device joins a session it draws an ephemeral X25519 key pair and a random join id, and signs
a *join statement* with its identity key::

    join_message   = "confidant-call-join-v2" | session_id 16 | device_id 16 | join_id 16 | ephemeral 32
    join_statement = join_id 16 | ephemeral 32 | Ed25519 signature 64 over join_message      (112 bytes)

Peers verify a statement under the identity key they pinned (never one the server hands out) and seal::

    plaintext = version u8 = 2 | session_id 16 | from_device 16 | to_device 16 | from_join 16 | to_join 16
                | seq u64 BE | payload
    boxed     = version u8 = 2 | nonce 24 |
                crypto_box_easy(plaintext, nonce, to_ephemeral_public, from_ephemeral_secret)

The ephemeral secrets live only in memory for one join: a recorded signal cannot be opened later (forward
secrecy), and after either side rejoins (a reload, a reset) an old signal no longer opens at all (another
key, another join id), so a relay can neither replay it nor swap an SDP (and its DTLS fingerprint).
Within a join, ``seq`` must increase per direction.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from crypto import primitives as p
from crypto.errors import MalformedEnvelope, ReplayedSignal, TooLarge, UnsupportedVersion, WrongContext
from crypto.keys import IdentityKeyPair, IdentityPublicKey, X25519KeyPair
from crypto.limits import DEVICE_ID_BYTES, MAX_SIGNAL_PLAINTEXT_BYTES

__all__ = [
    "BOXED_VERSION",
    "JOIN_STATEMENT_SIZE",
    "Join",
    "JoinStatement",
    "OpenedSignal",
    "SignalContext",
    "join_message",
    "open",
    "seal",
    "verify_join",
]

BOXED_VERSION: Final = 2
JOIN_CONTEXT: Final = b"confidant-call-join-v2"
JOIN_ID_BYTES: Final = 16
JOIN_STATEMENT_SIZE: Final = JOIN_ID_BYTES + p.X25519_PUBLIC_SIZE + p.ED25519_SIGNATURE_SIZE
_CONTEXT_SIZE: Final = 1 + 5 * DEVICE_ID_BYTES + 8
_U64_MAX: Final = 2**64 - 1


def _check_ids(*values: bytes) -> None:
    for value in values:
        if not isinstance(value, bytes) or len(value) != DEVICE_ID_BYTES:
            raise MalformedEnvelope(f"session, device and join ids are {DEVICE_ID_BYTES} bytes")


def join_message(session_id: bytes, device_id: bytes, join_id: bytes, ephemeral: bytes) -> bytes:
    _check_ids(session_id, device_id, join_id)
    if len(ephemeral) != p.X25519_PUBLIC_SIZE:
        raise MalformedEnvelope("the join's ephemeral key is 32 bytes")
    return JOIN_CONTEXT + session_id + device_id + join_id + ephemeral


@dataclass(frozen=True)
class JoinStatement:
    """A peer's join: its id and ephemeral public key, signed by the device's identity key."""

    join_id: bytes
    ephemeral: bytes
    signature: bytes

    def to_bytes(self) -> bytes:
        return self.join_id + self.ephemeral + self.signature

    @classmethod
    def from_bytes(cls, raw: bytes) -> JoinStatement:
        if len(raw) != JOIN_STATEMENT_SIZE:
            raise MalformedEnvelope(f"a join statement is {JOIN_STATEMENT_SIZE} bytes")
        return cls(raw[:16], raw[16:48], raw[48:])


@dataclass(frozen=True)
class Join:
    """This device's side of one join: the ephemeral key pair (never stored) and its signed statement."""

    keys: X25519KeyPair
    statement: JoinStatement

    @classmethod
    def create(
        cls,
        identity: IdentityKeyPair,
        session_id: bytes,
        device_id: bytes,
        *,
        ephemeral: X25519KeyPair | None = None,
        join_id: bytes | None = None,
    ) -> Join:
        """A fresh join (``ephemeral`` and ``join_id`` are for vectors)."""
        keys = ephemeral or X25519KeyPair.generate()
        jid = join_id if join_id is not None else p.random_bytes(JOIN_ID_BYTES)
        public = keys.public.to_bytes()
        signature = identity.sign(join_message(session_id, device_id, jid, public))
        return cls(keys, JoinStatement(jid, public, signature))

    @property
    def join_id(self) -> bytes:
        return self.statement.join_id


def verify_join(
    identity: IdentityPublicKey, session_id: bytes, device_id: bytes, raw: bytes
) -> JoinStatement:
    """The peer's statement if ``identity`` signed it for this session and device (else ``BadSignature``)."""
    statement = JoinStatement.from_bytes(raw)
    identity.verify(
        join_message(session_id, device_id, statement.join_id, statement.ephemeral), statement.signature
    )
    return statement


@dataclass(frozen=True)
class SignalContext:
    """Which session, direction and pair of joins a signaling payload belongs to (16-byte ids)."""

    session_id: bytes
    from_device: bytes
    to_device: bytes
    from_join: bytes
    to_join: bytes

    def __post_init__(self) -> None:
        _check_ids(self.session_id, self.from_device, self.to_device, self.from_join, self.to_join)

    def encode(self, seq: int) -> bytes:
        head = self.session_id + self.from_device + self.to_device + self.from_join + self.to_join
        return bytes([BOXED_VERSION]) + head + struct.pack(">Q", seq)


@dataclass(frozen=True)
class OpenedSignal:
    seq: int
    payload: bytes


def seal(
    sender: Join,
    recipient: JoinStatement,
    context: SignalContext,
    seq: int,
    payload: bytes,
    *,
    nonce: bytes | None = None,
) -> bytes:
    """Seal ``payload`` for the recipient's join. ``seq`` increases per direction; ``nonce``: vectors."""
    if len(payload) > MAX_SIGNAL_PLAINTEXT_BYTES:
        raise TooLarge(f"signaling payload exceeds {MAX_SIGNAL_PLAINTEXT_BYTES} bytes")
    if not 0 < seq <= _U64_MAX:
        raise ValueError("seq must be a positive 64-bit integer")
    nonce = nonce if nonce is not None else p.random_bytes(p.BOX_NONCE_SIZE)
    box = p.box_seal(sender.keys.secret_bytes(), recipient.ephemeral, nonce, context.encode(seq) + payload)
    return bytes([BOXED_VERSION]) + nonce + box


def open(  # the pair is seal/open, as in libsodium
    recipient: Join,
    sender: JoinStatement,
    context: SignalContext,
    boxed: bytes,
    last_seq: int = 0,
) -> OpenedSignal:
    """Open a payload expected in ``context``; refuses seq <= ``last_seq`` (``ReplayedSignal``)."""
    if not boxed:
        raise MalformedEnvelope("boxed signal is empty")
    if boxed[0] != BOXED_VERSION:
        raise UnsupportedVersion(f"boxed signal version {boxed[0]} is not supported")
    if len(boxed) < 1 + p.BOX_NONCE_SIZE + p.BOX_MAC_SIZE + _CONTEXT_SIZE:
        raise MalformedEnvelope("boxed signal is truncated")
    if len(boxed) > 1 + p.BOX_NONCE_SIZE + p.BOX_MAC_SIZE + _CONTEXT_SIZE + MAX_SIGNAL_PLAINTEXT_BYTES:
        raise TooLarge("boxed signal is too large")
    nonce, box = boxed[1 : 1 + p.BOX_NONCE_SIZE], boxed[1 + p.BOX_NONCE_SIZE :]
    plaintext = p.box_open(recipient.keys.secret_bytes(), sender.ephemeral, nonce, box)
    if plaintext[0] != BOXED_VERSION:
        raise UnsupportedVersion(f"boxed signal inner version {plaintext[0]} is not supported")
    (seq,) = struct.unpack(">Q", plaintext[_CONTEXT_SIZE - 8 : _CONTEXT_SIZE])
    if not p.constant_time_equal(plaintext[: _CONTEXT_SIZE - 8], context.encode(0)[:-8]):
        raise WrongContext("signal belongs to another session, sender, recipient or join")
    if seq <= last_seq:
        raise ReplayedSignal("signal sequence number is not above the last accepted one")
    return OpenedSignal(seq, plaintext[_CONTEXT_SIZE:])
