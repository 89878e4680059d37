"""HTTP views: the administration API and each account's own audit entries (docs/API.md "Administration").
Thin: authenticate, call one service method, serialise. ``/metrics`` has its own listener
(``server.http.metrics_listener``)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from server import limits
from server.context import AppContext, Route
from server.errors import InvalidField
from server.http._base import API, bearer_principal, reply
from server.operations import sample_forever

__all__ = ["register"]

_HEX_ID = r"{%s:[0-9a-f]{32}}"


class _Out(msgspec.Struct, frozen=True):
    pass


class DependencyOut(_Out, frozen=True, omit_defaults=True):
    status: str
    latency_ms: float
    error: str | None = None


class AdminHealthOut(_Out, frozen=True):
    at: int
    node_id: str
    ready: bool
    dependencies: dict[str, DependencyOut]
    metrics: dict[str, Any]  # aggregates only: see PrometheusObserver.snapshot


class AdminOverviewOut(_Out, frozen=True):
    accounts: dict[str, int]
    disabled_accounts: dict[str, int]
    active_devices: int
    pending_invitations: dict[str, int]
    audit_events: dict[str, int]


class StaffAccountOut(_Out, frozen=True):
    account_id: str
    role: str
    created_at: int
    disabled: bool
    active_devices: int


class StaffOut(_Out, frozen=True):
    accounts: list[StaffAccountOut]


class AccountStateOut(_Out, frozen=True):
    account_id: str
    disabled: bool


class AuditVerifyOut(_Out, frozen=True):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    broken_at: int | None
    reason: str | None


class AuditEntryOut(_Out, frozen=True):
    seq: int
    at: int
    event: str
    by_admin: bool
    details: dict[str, Any]
    hash: str


class AuditEntriesOut(_Out, frozen=True):
    entries: list[AuditEntryOut]


def _query_int(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidField(f"{name} must be an integer.", {"field": name}) from None
    if not low <= value <= high:
        raise InvalidField(f"{name} must be between {low} and {high}.", {"field": name})
    return value


def register(ctx: AppContext) -> None:
    ops = ctx.ops
    auth = ctx.services.auth
    admin = ctx.services.admin

    async def health(request: web.Request) -> web.Response:
        result = await admin.health(await bearer_principal(request, auth))
        deps = {name: DependencyOut("ok" if d.ok else "unavailable", round(d.latency_ms, 2), d.error)
                for name, d in result.dependencies.items()}
        return reply(AdminHealthOut(result.at, result.node_id, result.ready, deps, result.metrics))

    async def overview(request: web.Request) -> web.Response:
        population, audit_counts = await admin.population(await bearer_principal(request, auth))
        out = AdminOverviewOut(population.accounts, population.disabled_accounts, population.active_devices,
                               population.pending_invitations, audit_counts)
        return reply(out)

    async def staff(request: web.Request) -> web.Response:
        accounts = await admin.staff(await bearer_principal(request, auth))
        return reply(StaffOut([
            StaffAccountOut(s.account.account_id, s.account.role.value, s.account.created_at,
                            s.account.disabled, s.active_devices)
            for s in accounts
        ]))

    def set_disabled(disabled: bool) -> Any:
        async def view(request: web.Request) -> web.Response:
            caller = await bearer_principal(request, auth)
            account_id = request.match_info["account_id"]
            await admin.set_disabled(caller, account_id, disabled)
            return reply(AccountStateOut(account_id, disabled))

        return view

    async def revoke_device(request: web.Request) -> web.Response:
        await admin.revoke_device(await bearer_principal(request, auth), request.match_info["device_id"])
        return reply()

    async def verify_audit(request: web.Request) -> web.Response:
        report = await admin.verify_audit(await bearer_principal(request, auth))
        return reply(AuditVerifyOut(report.ok, report.entries, report.head_seq, report.head_hash,
                                    report.broken_at, report.reason))

    async def my_audit(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        before = _query_int(request, "before", None, 1, 2**53)
        limit = _query_int(request, "limit", limits.DEFAULT_AUDIT_PAGE, 1, limits.MAX_AUDIT_PAGE)
        limit = limit or limits.DEFAULT_AUDIT_PAGE
        devices = [d.device_id for d in await ctx.services.accounts.get_devices(caller)]
        entries = await ops.audit.entries_of(caller.account_id, devices, before, limit)
        return reply(AuditEntriesOut([msgspec.convert(e, AuditEntryOut) for e in entries]))

    async def sampler() -> None:
        await sample_forever(ctx, ops)

    ctx.add_background("metrics-sampler", sampler)

    admin_api = f"{API}/admin"
    ctx.add_route(Route("GET", f"{admin_api}/health", health, "Live relay figures and dependency status",
                        "admin", response=AdminHealthOut))
    ctx.add_route(Route("GET", f"{admin_api}/overview", overview, "Account, device and invitation counts",
                        "admin", response=AdminOverviewOut))
    ctx.add_route(Route("GET", f"{admin_api}/staff", staff, "Administrator and therapist accounts",
                        "admin", response=StaffOut))
    ctx.add_route(Route("POST", f"{admin_api}/accounts/{_HEX_ID % 'account_id'}/disable", set_disabled(True),
                        "Disable an account and end its connections", "admin", response=AccountStateOut))
    ctx.add_route(Route("POST", f"{admin_api}/accounts/{_HEX_ID % 'account_id'}/enable", set_disabled(False),
                        "Enable a disabled account", "admin", response=AccountStateOut))
    ctx.add_route(Route("DELETE", f"{admin_api}/devices/{_HEX_ID % 'device_id'}", revoke_device,
                        "Revoke any device", "admin", status=204))
    ctx.add_route(Route("GET", f"{admin_api}/audit/verify", verify_audit, "Verify the audit hash chain",
                        "admin", response=AuditVerifyOut))
    ctx.add_route(Route("GET", f"{API}/audit/me", my_audit, "Your own audit entries, newest first",
                        "audit", response=AuditEntriesOut))
