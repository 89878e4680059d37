"""Refusals of the video-session rules, each with a stable wire code (docs/API.md) and a stable ``reason``.

The server maps them to its error envelope ``{"code", "message", "details": {"reason", ...}}``:
``code`` is one of the API's generic codes (what kind of refusal), ``reason`` says exactly which rule.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "InvalidSessionState",
    "NotAdmitted",
    "NotHost",
    "NotInvited",
    "NotYourClient",
    "OutsideWindow",
    "ParticipantRemoved",
    "PeerNotAdmitted",
    "SessionClosed",
    "SessionError",
    "SessionFull",
    "SessionInvalid",
    "TurnUnavailable",
]


class SessionError(Exception):
    code = "forbidden"
    reason = "forbidden"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = {"reason": self.reason, **details}


class NotInvited(SessionError):
    """The session does not exist or the caller is neither its therapist nor an invited client."""

    code, reason = "not_found", "not_invited"


class NotYourClient(SessionError):
    """A therapist invited an account that is not one of their clients (``details.account_id``)."""

    code, reason = "not_linked", "not_your_client"


class NotHost(SessionError):
    code, reason = "forbidden", "not_host"


class NotAdmitted(SessionError):
    """The caller (this device) has not been admitted by the therapist."""

    code, reason = "forbidden", "not_admitted"


class PeerNotAdmitted(SessionError):
    """The addressed device is not an admitted participant of this session."""

    code, reason = "forbidden", "peer_not_admitted"


class ParticipantRemoved(SessionError):
    code, reason = "forbidden", "removed"


class SessionClosed(SessionError):
    """The session ended or was cancelled; ``details.state`` says which."""

    code, reason = "conflict", "session_closed"


class InvalidSessionState(SessionError):
    """The rule exists, but not in the current state (e.g. reschedule once the room is open)."""

    code, reason = "conflict", "invalid_state"


class OutsideWindow(SessionError):
    """Too early or too late to join (``details.starts_at`` / ``details.ends_at``)."""

    code, reason = "conflict", "outside_window"


class SessionFull(SessionError):
    code, reason = "conflict", "session_full"


class SessionInvalid(SessionError):
    """A field of a session request is invalid (``details.field``)."""

    code, reason = "invalid_field", "invalid_session"


class TurnUnavailable(SessionError):
    code, reason = "not_found", "turn_not_configured"
