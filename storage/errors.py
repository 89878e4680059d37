"""Errors raised by every storage adapter. The server maps them to wire codes."""

from __future__ import annotations

__all__ = [
    "PROTOCOL_V1_REFUSED",
    "DeviceLimitReached",
    "InvitationUnusable",
    "LinkCodeUnusable",
    "PrekeyIdConflict",
    "PrekeyLimitReached",
    "ProtocolVersionRefused",
    "StorageError",
    "StorageUnavailable",
    "TermsVersionConflict",
    "describe",
]


def describe(exc: BaseException) -> str:
    """For logs: the class names down the cause chain with the engine's error name, e.g.
    ``StorageUnavailable < OperationalError SQLITE_FULL``, or ``< OperationalError SQLITE_IOERR_WRITE``
    (EFBIG / ENOSPC). Never the message: a driver's message may carry a connection string."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 4:
        name = type(seen).__name__
        engine = getattr(seen, "sqlite_errorname", None) or getattr(seen, "code", None)
        parts.append(f"{name} {engine}" if isinstance(engine, str | int) and engine != "" else name)
        seen = seen.__cause__ or seen.__context__
    return " < ".join(parts)


class StorageError(Exception):
    """Base of every storage error."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or written; nothing was stored."""


class InvitationUnusable(StorageError):
    """The invitation is unknown, used, revoked or expired (one error: nothing to enumerate)."""


class LinkCodeUnusable(StorageError):
    """The device link code is unknown, used or expired, or its account is disabled."""


class DeviceLimitReached(StorageError):
    """The account already has the maximum number of active devices."""


class PrekeyIdConflict(StorageError):
    """A one-time prekey id is already stored for this device."""


class PrekeyLimitReached(StorageError):
    """Storing these one-time prekeys would exceed the per-device maximum."""


class TermsVersionConflict(StorageError):
    """Two publications of the same therapist's terms raced for one version."""


PROTOCOL_V1_REFUSED = (
    "This database was written by Confidant protocol version 1 (devices without certificates) and "
    "cannot be used by version 2; there is no migration: start with a new, empty database."
)


class ProtocolVersionRefused(RuntimeError):
    """The database predates protocol version 2 (docs/API.md, Start-up); the server refuses to start."""
