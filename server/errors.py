"""Every error a client can see: a stable code, an HTTP status, one human sentence.

Mapped to the wire in exactly two places: ``server.http.middleware`` (HTTP) and ``server.realtime``
(socket.io acks and connect refusals). Both call ``to_app_error`` and ``AppError.to_wire``; it is also the
one place where a video-session refusal (``signaling.errors.SessionError``) becomes an ``AppError``.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from signaling.errors import SessionError
from storage.errors import StorageUnavailable

__all__ = [
    "AppError",
    "BadRequest",
    "ChallengeInvalid",
    "Conflict",
    "ConsentRequired",
    "DeviceSetMismatch",
    "ErrorCode",
    "Forbidden",
    "Internal",
    "InvalidField",
    "InvitationInvalid",
    "LimitReached",
    "MethodNotAllowed",
    "NotFound",
    "NotLinked",
    "PayloadTooLarge",
    "RateLimited",
    "SignatureInvalid",
    "StorageDown",
    "Unauthenticated",
    "UnsupportedVersion",
    "session_app_error",
    "to_app_error",
]

log = logging.getLogger(__name__)


class ErrorCode(str, Enum):  # noqa: UP042 (str mixin: codes compare equal to their wire strings)
    BAD_REQUEST = "bad_request"
    INVALID_FIELD = "invalid_field"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNAUTHENTICATED = "unauthenticated"
    CHALLENGE_INVALID = "challenge_invalid"
    SIGNATURE_INVALID = "signature_invalid"
    FORBIDDEN = "forbidden"
    NOT_LINKED = "not_linked"
    CONSENT_REQUIRED = "consent_required"
    INVITATION_INVALID = "invitation_invalid"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    DEVICE_SET_MISMATCH = "device_set_mismatch"
    LIMIT_REACHED = "limit_reached"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    INTERNAL = "internal"


STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.INVALID_FIELD: 400,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_VERSION: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.CHALLENGE_INVALID: 401,
    ErrorCode.SIGNATURE_INVALID: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_LINKED: 403,
    ErrorCode.CONSENT_REQUIRED: 403,
    ErrorCode.INVITATION_INVALID: 410,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.DEVICE_SET_MISMATCH: 409,
    ErrorCode.LIMIT_REACHED: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.QUOTA_EXCEEDED: 413,
    ErrorCode.RANGE_NOT_SATISFIABLE: 416,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}


class AppError(Exception):
    """An error with a stable code. Subclasses fix the code; the message is one human sentence."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, details: dict[str, Any] | None = None, *, code: ErrorCode | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = details or {}

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(AppError):
    code = ErrorCode.BAD_REQUEST


class InvalidField(AppError):
    code = ErrorCode.INVALID_FIELD


class PayloadTooLarge(AppError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedVersion(AppError):
    code = ErrorCode.UNSUPPORTED_VERSION


class Unauthenticated(AppError):
    code = ErrorCode.UNAUTHENTICATED


class ChallengeInvalid(AppError):
    code = ErrorCode.CHALLENGE_INVALID


class SignatureInvalid(AppError):
    code = ErrorCode.SIGNATURE_INVALID


class Forbidden(AppError):
    code = ErrorCode.FORBIDDEN


class NotLinked(AppError):
    code = ErrorCode.NOT_LINKED


class ConsentRequired(AppError):
    code = ErrorCode.CONSENT_REQUIRED


class InvitationInvalid(AppError):
    code = ErrorCode.INVITATION_INVALID


class NotFound(AppError):
    code = ErrorCode.NOT_FOUND


class MethodNotAllowed(AppError):
    code = ErrorCode.METHOD_NOT_ALLOWED

    def __init__(self, allowed: list[str]):
        self.allowed = sorted(allowed)
        super().__init__("This method is not allowed on this resource.", {"allowed": self.allowed})


class Conflict(AppError):
    code = ErrorCode.CONFLICT


class LimitReached(AppError):
    """An account holds as many of something (outstanding link codes, invitations...) as it may."""

    code = ErrorCode.LIMIT_REACHED


class DeviceSetMismatch(AppError):
    code = ErrorCode.DEVICE_SET_MISMATCH


class StorageDown(AppError):
    code = ErrorCode.STORAGE_UNAVAILABLE


class Internal(AppError):
    code = ErrorCode.INTERNAL


class RateLimited(AppError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after_seconds: float):
        self.retry_after_seconds = max(1, int(retry_after_seconds + 0.999))
        super().__init__("Too many requests; retry later.", {"retry_after_seconds": self.retry_after_seconds})


_CODES = {c.value: c for c in ErrorCode}
# A session rule refused the request: whatever its code, it is never the server's fault.
_SESSION_FALLBACK = ErrorCode.FORBIDDEN


def session_app_error(exc: SessionError) -> AppError:
    """A video-session refusal (``signaling.errors``) in the error envelope: its generic ``code`` plus
    ``details.reason``. A code this server does not know becomes ``forbidden``, never a 500."""
    code = _CODES.get(exc.code)
    if code is None or STATUS[code] >= 500:
        log.error("session error with an unknown code", extra={"code": str(exc.code)[:40]})
        code = _SESSION_FALLBACK
    return AppError(exc.message, exc.details, code=code)


def to_app_error(exc: BaseException) -> AppError:
    """The wire form of any exception escaping a handler; unknown ones become ``internal``."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, SessionError):
        return session_app_error(exc)
    if isinstance(exc, StorageUnavailable):
        return StorageDown("The database is unavailable; nothing was stored. Retry later.")
    return Internal("An internal error occurred; it has been logged with the request id.")
