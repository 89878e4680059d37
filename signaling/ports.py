"""What the session rules need from the server: who is calling, how to tell devices, what to record.

``signaling.sessions`` depends only on these; the server hands in its implementations (``server.realtime``'s
notifier, ``server.services.session_events``, its LinkService's checks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from signaling.turn import DEFAULT_TURN_TTL_SECONDS
from storage.records import Role

__all__ = [
    "Caller",
    "Connected",
    "ConsentCheck",
    "LinkCheck",
    "NoEvents",
    "Notifier",
    "SessionEvents",
    "TurnSettings",
]


class Caller(Protocol):
    @property
    def account_id(self) -> str: ...
    @property
    def device_id(self) -> str: ...
    @property
    def role(self) -> Role: ...


class Notifier(Protocol):
    async def to_device(self, device_id: str, event: str, payload: Any) -> None: ...

    async def to_account(self, account_id: str, event: str, payload: Any) -> None: ...


class SessionEvents(Protocol):
    """What the server records about sessions (audit log, metrics); the default records nothing."""

    async def admitted(self, session_id: str, account_id: str) -> None: ...

    async def ended(self, session_id: str, therapist_id: str, final_state: str) -> None: ...

    def turn_issued(self) -> None: ...


class NoEvents:
    async def admitted(self, session_id: str, account_id: str) -> None:
        pass

    async def ended(self, session_id: str, therapist_id: str, final_state: str) -> None:
        pass

    def turn_issued(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class TurnSettings:
    urls: tuple[str, ...] = ()
    secret: str | None = None
    ttl_seconds: int = DEFAULT_TURN_TTL_SECONDS


LinkCheck = Callable[[str, str], Awaitable[bool]]  # (therapist_id, client_id) -> linked?
ConsentCheck = Callable[[str, str], Awaitable[None]]  # raises the server's consent_required
Connected = Callable[[str], Awaitable[bool]]  # device_id -> has a live socket (on any node)?
