"""Confidant's end-to-end encryption: X3DH + Double Ratchet over libsodium primitives.

The wire formats and every constant are specified in docs/PROTOCOL.md.
"""

from __future__ import annotations

from crypto import attachments, boxed, encoding, fingerprint, keywrap, limits
from crypto.envelope import EnvelopeInfo, EnvelopeType, parse, peek
from crypto.errors import (
    BadSignature,
    CryptoError,
    DecryptionFailed,
    DuplicateMessage,
    InvalidKey,
    MalformedEnvelope,
    MalformedState,
    ReplayedSignal,
    SessionMismatch,
    StreamTruncated,
    TooLarge,
    TooManySkippedMessages,
    UnknownPreKey,
    UnsupportedVersion,
    WrongContext,
    WrongRecipient,
    WrongSender,
)
from crypto.keys import (
    IdentityKeyPair,
    IdentityPublicKey,
    OneTimePreKey,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKey,
    SignedPreKeyPair,
    X25519KeyPair,
    X25519PublicKey,
    generate_one_time_prekeys,
    signed_prekey_message,
    verify_signature,
    verify_signed_prekey,
)
from crypto.session import Session, peek_envelope

__all__ = [
    "BadSignature",
    "CryptoError",
    "DecryptionFailed",
    "DuplicateMessage",
    "EnvelopeInfo",
    "EnvelopeType",
    "IdentityKeyPair",
    "IdentityPublicKey",
    "InvalidKey",
    "MalformedEnvelope",
    "MalformedState",
    "OneTimePreKey",
    "OneTimePreKeyPair",
    "PreKeyBundle",
    "ReplayedSignal",
    "Session",
    "SessionMismatch",
    "SignedPreKey",
    "SignedPreKeyPair",
    "StreamTruncated",
    "TooLarge",
    "TooManySkippedMessages",
    "UnknownPreKey",
    "UnsupportedVersion",
    "WrongContext",
    "WrongRecipient",
    "WrongSender",
    "X25519KeyPair",
    "X25519PublicKey",
    "attachments",
    "boxed",
    "encoding",
    "fingerprint",
    "generate_one_time_prekeys",
    "keywrap",
    "limits",
    "parse",
    "peek",
    "peek_envelope",
    "signed_prekey_message",
    "verify_signature",
    "verify_signed_prekey",
]
