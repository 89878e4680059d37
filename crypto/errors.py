"""The crypto error tree.

Every failure of this package raises a subclass of `CryptoError`. Messages are fixed sentences
(sometimes with a count or an id) and never contain key material, plaintext or ciphertext.
"""

from __future__ import annotations

__all__ = [
    "BadCertificate",
    "BadSignature",
    "CryptoError",
    "DecryptionFailed",
    "DuplicateMessage",
    "InvalidKey",
    "MalformedEnvelope",
    "MalformedState",
    "ReplayedMessage",
    "ReplayedSignal",
    "SessionMismatch",
    "StreamTruncated",
    "TooLarge",
    "TooManySkippedMessages",
    "UnknownPreKey",
    "UnsupportedVersion",
    "WrongContext",
    "WrongRecipient",
    "WrongSender",
]


class CryptoError(Exception):
    """Base of every error raised by `crypto`."""


class InvalidKey(CryptoError):
    """A key has the wrong size, is not a valid point, or yields a degenerate DH output."""


class BadSignature(CryptoError):
    """An Ed25519 signature does not verify."""


class DecryptionFailed(CryptoError):
    """Authenticated decryption failed: wrong key, tampered ciphertext or tampered associated data."""


class DuplicateMessage(CryptoError):
    """The message was already decrypted (or its key was evicted): replays are refused."""


class TooManySkippedMessages(CryptoError):
    """The message claims a position too far ahead of the chain (more than MAX_SKIP keys to skip)."""


class MalformedEnvelope(CryptoError):
    """An envelope (or another wire structure) cannot be parsed."""


class MalformedState(CryptoError):
    """Serialised session or key state cannot be parsed."""


class UnsupportedVersion(CryptoError):
    """A wire structure carries a version this implementation does not speak."""


class WrongRecipient(CryptoError):
    """The envelope is addressed to another device than the one decrypting it."""


class WrongSender(CryptoError):
    """The envelope claims a sender that is not this session's peer."""


class UnknownPreKey(CryptoError):
    """A prekey message names a signed or one-time prekey this device does not (or no longer) hold."""


class SessionMismatch(CryptoError):
    """A prekey message belongs to a different session than the one asked to decrypt it."""


class TooLarge(CryptoError):
    """An input exceeds a limit from `crypto.limits`."""


class WrongContext(CryptoError):
    """A boxed signaling payload was opened for another call, sender or recipient than it was sealed for."""


class ReplayedSignal(CryptoError):
    """A boxed signaling payload's sequence number is not above the last one accepted."""


class StreamTruncated(CryptoError):
    """An encrypted attachment stream ended before its final chunk, or has data after it."""


class BadCertificate(CryptoError):
    """A device certificate does not verify under the account key for this account, device and key."""


class ReplayedMessage(CryptoError):
    """An X3DH initial message this device already accepted (docs/PROTOCOL.md section 19)."""
