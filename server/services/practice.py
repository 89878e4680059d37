"""The practice's settings: any signed-in device reads them; only an administrator changes them.

The server does not enforce these rules: they are about keys it must not be trusted with. Clients enforce
them, and remember a rule they once saw on (a hostile server could serve it off): docs/TRUST.md.
"""

from __future__ import annotations

from server.audit import AuditEvent, AuditRecorder
from server.clock import Clock
from server.services.admin import require_admin
from server.services.values import Principal
from storage.practice import PracticeSettings, PracticeStore

__all__ = ["PracticeService"]


class PracticeService:
    def __init__(self, store: PracticeStore, clock: Clock, *, audit: AuditRecorder) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit

    async def get(self, caller: Principal) -> PracticeSettings:
        del caller  # authenticated by the transport: every role reads the rules it must follow
        return await self._store.get_practice_settings()

    async def set(self, caller: Principal, *, require_verified_safety_numbers: bool) -> PracticeSettings:
        require_admin(caller)
        settings = PracticeSettings(require_verified_safety_numbers, self._clock())
        await self._store.put_practice_settings(settings)
        await self._audit.record(AuditEvent.ADMIN_PRACTICE_CHANGED, account_id=caller.account_id)
        return settings
