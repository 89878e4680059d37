"""Retention: what the sweeper deletes by age (docs/STORAGE.md "Retention" lists every kind of record).

Ages come from settings (``sends_retention_seconds``, ``attendance_retention_days``,
``audit_retention_days``); the clock is passed in, so tests drive it. Expiry of envelopes, tokens,
challenges, invitations and link codes is the expiry service's (server/services/expiry.py); this service
deletes what has no expiry of its own.
"""

from __future__ import annotations

import logging

from server.clock import Clock
from storage.protocols import Storage

__all__ = ["RetentionService"]

log = logging.getLogger(__name__)

DAY_MS = 86_400_000


class RetentionService:
    def __init__(self, storage: Storage, clock: Clock, *, sends_seconds: int, attendance_days: int,
                 audit_days: int) -> None:
        self._storage = storage
        self._clock = clock
        self._sends_ms = 1000 * sends_seconds
        self._attendance_ms = DAY_MS * attendance_days
        self._audit_ms = DAY_MS * audit_days

    async def sweep(self) -> dict[str, int]:
        now = self._clock()
        counts = {
            "sends": await self._storage.mailbox.delete_sends_before(now - self._sends_ms),
            "appointments": await self._storage.appointments.delete_appointments_ended_before(
                now - self._attendance_ms
            ),
            "terms": await self._storage.consent.delete_unreferenced_terms(),
            # Oldest first, from a recorded floor: what is left still verifies (server/audit.py).
            "audit_entries": await self._storage.audit.delete_entries_before(now - self._audit_ms),
        }
        if any(counts.values()):
            log.info("records past their retention deleted", extra={"deleted": counts})
        return counts
