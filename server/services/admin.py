"""Administration: relay health and account moderation, for the ``admin`` role only.

What an administrator can learn is deliberately narrow. Health figures are aggregates (counts, rates,
latency buckets). Account listings cover staff (admins and therapists) with device counts, never clients,
never links, labels or consent: client accounts are moderated by id, which the person (or their therapist)
hands to the administrator. The audit log is shown as counts per event kind plus the chain verification.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from server.audit import AuditEvent, AuditService, ChainReport
from server.clock import Clock
from server.errors import Forbidden, NotFound
from server.metrics import PrometheusObserver
from server.readiness import DependencyStatus, ReadinessChecker
from server.services.authz_cache import AuthzCache
from server.services.notify import Notifier
from server.services.values import Principal
from server.wire.responses import DevicesChangedEvent
from storage.ops import AccountSummary, OpsStore, Population
from storage.protocols import Storage
from storage.records import Role

__all__ = ["AdminService", "Health"]

log = logging.getLogger(__name__)

MAX_STAFF_LISTED = 1000


@dataclass(frozen=True, slots=True)
class Health:
    at: int
    node_id: str
    dependencies: dict[str, DependencyStatus]
    metrics: dict[str, Any]

    @property
    def ready(self) -> bool:
        return all(d.ok for d in self.dependencies.values())


def require_admin(caller: Principal) -> None:
    if caller.role is not Role.ADMIN:
        raise Forbidden("Only administrators may use the administration API.")


class AdminService:
    def __init__(
        self,
        storage: Storage,
        ops_store: OpsStore,
        notifier: Notifier,
        audit: AuditService,
        metrics: PrometheusObserver,
        readiness: ReadinessChecker,
        clock: Clock,
        node_id: str,
        *,
        authz: AuthzCache,
    ) -> None:
        self._storage = storage
        self._authz = authz
        self._ops = ops_store
        self._notifier = notifier
        self._audit = audit
        self._metrics = metrics
        self._readiness = readiness
        self._clock = clock
        self._node_id = node_id

    async def health(self, caller: Principal) -> Health:
        require_admin(caller)
        dependencies = await self._readiness.check()
        return Health(self._clock(), self._node_id, dependencies, self._metrics.snapshot())

    async def population(self, caller: Principal) -> tuple[Population, dict[str, int]]:
        require_admin(caller)
        return await self._ops.get_population(self._clock()), await self._audit.counts()

    async def staff(self, caller: Principal) -> list[AccountSummary]:
        require_admin(caller)
        return await self._ops.get_accounts_by_role((Role.ADMIN, Role.THERAPIST), MAX_STAFF_LISTED)

    async def set_disabled(self, caller: Principal, account_id: str, disabled: bool) -> bool:
        require_admin(caller)
        if account_id == caller.account_id:
            raise Forbidden("You cannot disable or enable your own account.")
        if not await self._authz.after_commit(
            self._storage.accounts.set_account_disabled(account_id, disabled), lambda _: (account_id,)
        ):
            raise NotFound("No account has this id.")
        if disabled:  # live connections end now; new logins and tokens are refused by the auth service
            for device in await self._storage.devices.get_devices([account_id]):
                if device.active:
                    await self._notifier.disconnect_device(device.device_id)
        event = AuditEvent.ADMIN_ACCOUNT_DISABLED if disabled else AuditEvent.ADMIN_ACCOUNT_ENABLED
        await self._audit.record(event, account_id=account_id, actor_id=caller.account_id)
        return disabled

    async def revoke_device(self, caller: Principal, device_id: str) -> None:
        require_admin(caller)
        device = await self._storage.devices.get_device(device_id)
        if device is None or not device.active:
            raise NotFound("No active device has this id.")
        if device.device_id == caller.device_id:
            raise Forbidden("Revoke your own current device from your device list, not here.")
        await self._authz.after_commit(
            self._storage.devices.revoke_device(device_id, self._clock()), lambda _: (device.account_id,)
        )
        await self._notifier.disconnect_device(device_id)
        # Same announcement as an owner's revocation: the account and its contacts refetch devices.
        event = DevicesChangedEvent(device.account_id)
        await self._notifier.to_account(device.account_id, "devices_changed", event)
        for link in await self._storage.links.get_links_of(device.account_id):
            other = link.client_id if link.therapist_id == device.account_id else link.therapist_id
            await self._notifier.to_account(other, "devices_changed", event)
        await self._audit.record(
            AuditEvent.ADMIN_DEVICE_REVOKED,
            account_id=device.account_id,
            actor_id=caller.account_id,
            device_id=device_id,
        )

    async def verify_audit(self, caller: Principal) -> ChainReport:
        require_admin(caller)
        report = await self._audit.verify()
        if not report.ok:
            log.error("audit chain broken", extra={"broken_at": report.broken_at, "reason": report.reason})
        return report
