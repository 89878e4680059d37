"""Errors raised by the client SDK."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "ClientError", "KeyChanged", "KeystoreError", "TransportError"]


class ClientError(Exception):
    """Base class of every SDK error."""


class ApiError(ClientError):
    """The server refused a call with a stable ``code`` (docs/API.md), a ``message``, ``details``."""

    def __init__(
        self, code: str, message: str, details: dict[str, Any] | None = None, status: int = 0
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.status = status

    @classmethod
    def from_wire(cls, body: Any, status: int = 0) -> ApiError:
        """Build from ``{"error": {...}}`` (or the inner object); anything else becomes ``internal``."""
        err = body.get("error", body) if isinstance(body, dict) else None
        if not isinstance(err, dict) or "code" not in err:
            return cls("internal", f"unexpected error response (HTTP {status})", {}, status)
        details = err.get("details")
        return cls(
            str(err["code"]),
            str(err.get("message", "")),
            details if isinstance(details, dict) else {},
            status,
        )


class TransportError(ClientError):
    """The server could not be reached or the connection dropped before an answer."""


class KeystoreError(ClientError):
    """The keystore file is missing, corrupt, or the passphrase is wrong."""


class KeyChanged(ClientError):
    """A peer device's identity key differs from the one pinned earlier; nothing was accepted from it."""

    def __init__(self, account_id: str, device_id: str) -> None:
        super().__init__(f"identity key of device {device_id} of account {account_id} changed")
        self.account_id = account_id
        self.device_id = device_id
