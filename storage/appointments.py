"""Durable appointment metadata of video sessions: who, when, join/leave times. Never media, never content.

Live room state (who is waiting, admitted, connected right now) is NOT here: it lives in the Broker so that
any node can serve any participant (signaling.rooms). This store keeps what must survive a restart:
the schedule, the final outcome (ended / cancelled) and the attendance record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Appointment", "AppointmentStore", "Attendance", "DurableState", "Reschedule"]

# Durable states; "open" and "in_progress" exist only in the broker while a session is live.
DurableState = str  # "scheduled" | "ended" | "cancelled"


@dataclass(frozen=True, slots=True)
class Appointment:
    session_id: str
    therapist_id: str
    participants: tuple[str, ...]  # invited client account ids, sorted
    starts_at: int
    ends_at: int
    max_participants: int  # clients admitted at once (the therapist is not counted)
    state: DurableState
    created_at: int
    updated_at: int
    started_at: int | None = None  # first client admitted
    ended_at: int | None = None  # ended or cancelled


@dataclass(frozen=True, slots=True)
class Reschedule:
    starts_at: int
    ends_at: int
    participants: tuple[str, ...]
    max_participants: int


@dataclass(frozen=True, slots=True)
class Attendance:
    session_id: str
    account_id: str
    joined_at: int
    left_at: int | None  # None: still in the room (or the node died before recording the leave)


class AppointmentStore(Protocol):
    async def add_appointment(self, appointment: Appointment) -> None: ...

    async def get_appointment(self, session_id: str) -> Appointment | None: ...

    async def get_appointments_of(self, account_id: str, *, ends_after: int, limit: int) -> list[Appointment]:
        """Sessions the account hosts or is invited to that end after ``ends_after``, soonest first."""
        ...

    async def update_appointment(self, session_id: str, change: Reschedule, now: int) -> Appointment | None:
        """Apply ``change`` only while the appointment is still ``scheduled`` (one conditional write);
        None if it is not (anymore): the caller re-reads to tell why."""
        ...

    async def set_appointment_state(
        self, session_id: str, state: DurableState, now: int, *, only_from: tuple[DurableState, ...]
    ) -> bool:
        """Move to ``state`` if the current state is in ``only_from``; False otherwise (nothing changed)."""
        ...

    async def mark_appointment_started(self, session_id: str, now: int) -> None:
        """Record the first admission time (kept if already set)."""
        ...

    async def add_attendance(self, session_id: str, account_id: str, joined_at: int) -> None:
        """Open an attendance row, unless one is already open for this account (a rejoin, another device)."""
        ...

    async def close_attendance(self, session_id: str, account_id: str, left_at: int) -> None:
        """Close the account's open attendance row, if any."""
        ...

    async def get_attendance(self, session_id: str) -> list[Attendance]: ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): the account's attendance and invitations to sessions, and the
        appointments it hosts (with their participants and attendance)."""
        ...

    async def delete_appointments_ended_before(self, cutoff: int) -> int:
        """Retention: appointments whose window ended before ``cutoff``, with participants and attendance."""
        ...
