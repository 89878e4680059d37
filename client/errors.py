"""Errors raised by the client SDK."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "CallRefused",
    "ClientError",
    "ContactBlocked",
    "KeyChanged",
    "KeystoreError",
    "LinkRefused",
    "TransportError",
    "UntrustedDevice",
]


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
    """A contact's ACCOUNT key differs from the one pinned or verified earlier (protocol version 2).

    A blocking event: nothing is sent to that contact, and no call placed, until the person accepts the
    new key (``Device.accept_new_key``) or verifies it again; messages queued meanwhile wait.
    ``reason`` is ``"changed"`` or ``"invitation_mismatch"`` (the key does not match the invitation link).
    """

    def __init__(self, account_id: str, device_id: str = "", reason: str = "changed") -> None:
        super().__init__(f"the account key of {account_id} changed ({reason})")
        self.account_id = account_id
        self.device_id = device_id
        self.reason = reason


class ContactBlocked(ClientError):
    """A send or call to a contact whose account key changed and was not accepted: it waits."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"the account key of {account_id} changed: accept or verify it first")
        self.account_id = account_id


class CallRefused(ClientError):
    """This device will not join, admit or connect a video session with ``account_id`` (client/practice.py).

    ``reason`` is ``"key_changed"`` (their account key changed and the person has not accepted or verified
    it) or ``"unverified"`` (the practice requires verified safety numbers and this contact's is not).
    The way out is the same on both: compare the safety number and ``Device.verify`` (or, for a changed
    key, ``Device.accept_new_key`` when the practice does not require verification).
    """

    def __init__(self, account_id: str, reason: str) -> None:
        why = {
            "key_changed": "their security key changed: accept or verify it first",
            "unverified": "this practice requires a verified safety number before a session: verify it first",
        }.get(reason, reason)
        super().__init__(f"no session with {account_id}: {why}")
        self.account_id = account_id
        self.reason = reason


class UntrustedDevice(ClientError):
    """A device whose certificate does not verify under the pinned account key: never used."""

    def __init__(self, account_id: str, device_id: str) -> None:
        super().__init__(f"device {device_id} of {account_id} is not certified by its account key")
        self.account_id = account_id
        self.device_id = device_id


class LinkRefused(ClientError):
    """Linking a device was cancelled, expired, or failed a check (the person saw different strings)."""
