"""``signaling.sessions.SessionEvents`` for the relay: audit entries and the TURN issuance counter."""

from __future__ import annotations

from server.audit import AuditEvent, AuditRecorder
from server.observability import Observer

__all__ = ["AuditedSessionEvents"]


class AuditedSessionEvents:
    """An admission is recorded for the admitted participant only, an end for the host only: the audit log
    never names two people of one session together (no pair can be read back from it)."""

    def __init__(self, audit: AuditRecorder, observer: Observer) -> None:
        self._audit = audit
        self._observer = observer

    async def admitted(self, session_id: str, account_id: str) -> None:
        await self._audit.record(AuditEvent.SESSION_ADMITTED, account_id=account_id)

    async def ended(self, session_id: str, therapist_id: str, final_state: str) -> None:
        if final_state == "ended":
            await self._audit.record(AuditEvent.SESSION_ENDED, account_id=therapist_id)

    def turn_issued(self) -> None:
        self._observer.turn_credentials_issued()
