"""Operations wiring for the composition root: metrics, audit log, aggregate reads and readiness.

``build_operations`` is called by ``server.app.build_app`` before the services are built, so that the stores
and the broker the services receive are already the timed ones, and the services get the observer and the
audit recorder through their constructors. ``instrument_socketio`` is called after every feature registered.
Nothing here is a module-level singleton: every app gets its own registry, so two nodes in one process
(tests) never share a series.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

from server.audit import AuditEvent, AuditService
from server.instrument import (
    observe_connections,
    timed_broker,
    timed_socket_events,
    timed_storage,
    timed_store,
)
from server.metrics import PrometheusObserver
from server.readiness import STORAGE_WRITE_CHECK_SECONDS, ReadinessChecker, ThrottledCheck
from storage.audit import AuditStore
from storage.broker import Broker
from storage.ops import OpsStore
from storage.protocols import Storage

if TYPE_CHECKING:
    from server.clock import Clock
    from server.config import Settings
    from server.context import AppContext

__all__ = [
    "Operations",
    "OpsSessionEvents",
    "build_operations",
    "instrument_socketio",
    "run_verify_audit",
    "sample_forever",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Operations:
    metrics: PrometheusObserver  # also the Observer every service reports to
    audit: AuditService
    ops_store: OpsStore
    readiness: ReadinessChecker
    sample_seconds: float


def _version() -> str:
    try:
        return metadata.version("confidant")
    except metadata.PackageNotFoundError:
        return "0"


def _adapters(storage: Storage) -> tuple[AuditStore, OpsStore]:
    """The audit and aggregate stores of the same backend as ``storage`` (same database, same engine)."""
    from storage.sqlite import SqliteStorage

    if isinstance(storage, SqliteStorage):
        from storage.sqlite.audit import SqliteAuditStore
        from storage.sqlite.ops import SqliteOpsStore

        return SqliteAuditStore(storage.engine), SqliteOpsStore(storage.engine)
    from storage.mongodb import MongoStorage

    if isinstance(storage, MongoStorage):
        from storage.mongodb.audit import MongoAuditStore
        from storage.mongodb.ops import MongoOpsStore

        return MongoAuditStore(storage.engine), MongoOpsStore(storage.engine)
    raise TypeError(f"no audit/ops adapter for {type(storage).__name__}")


def build_operations(
    settings: Settings, storage: Storage, broker: Broker, clock: Clock
) -> tuple[Operations, Storage, Broker]:
    """The node's operations bundle, plus the timed storage and broker to hand to the services."""
    metrics = PrometheusObserver(_version())
    audit_store, ops_store = _adapters(storage)
    timed_audit = timed_store(audit_store, "audit", metrics)
    timed = timed_storage(storage, metrics)
    brokered = timed_broker(broker, metrics)
    heartbeat = ThrottledCheck(lambda: timed.put_heartbeat(clock()), STORAGE_WRITE_CHECK_SECONDS, clock)

    async def storage_ready() -> None:
        await timed.ping()  # a read, every time: cheap
        await heartbeat()  # a committed write, at most every few seconds

    readiness = ReadinessChecker.for_deployment(storage_ready, brokered.ping, settings.turn_urls, metrics)
    interval = float(settings.metrics_interval_seconds)
    ops = Operations(metrics, AuditService(timed_audit, metrics), ops_store, readiness, interval)
    return ops, timed, brokered


def instrument_socketio(ctx: AppContext, ops: Operations) -> None:
    """After every feature registered, before the events are bound."""
    timed_socket_events(ctx.socket_events, ops.metrics)
    observe_connections(ctx.sio, ops.metrics)


async def sample_once(ctx: AppContext, ops: Operations) -> None:
    """One periodic aggregate sample: backlog, video sessions by state, dependency status."""
    now = ctx.clock()
    try:
        backlog = await ops.ops_store.get_backlog(now)
        oldest = (now - backlog.oldest_sent_at) / 1000 if backlog.oldest_sent_at is not None else 0.0
        ops.metrics.mailbox_backlog(backlog.envelopes, oldest)
        ops.metrics.signaling_sessions(await ops.ops_store.count_sessions_by_state())
    except Exception as exc:  # storage down: the dependency gauge below says so; keep sampling
        log.warning("metrics sample failed", extra={"error": type(exc).__name__})
    await ops.readiness.check()


async def sample_forever(ctx: AppContext, ops: Operations) -> None:
    while True:
        await sample_once(ctx, ops)
        await asyncio.sleep(ops.sample_seconds)  # the sampling period, not a synchronisation


def run_verify_audit(settings: Settings) -> int:
    """``confidant admin verify-audit``: walk the local audit chain, print one line, exit 1 if broken."""
    from server.app import build_app  # the composition root imports this module

    async def verify() -> int:
        built = build_app(settings)
        try:
            report = await built.ctx.ops.audit.verify()
        finally:
            await built.ctx.storage.close()
        print(report.verdict())
        return 0 if report.ok else 1

    return asyncio.run(verify())


class OpsSessionEvents:
    """``signaling.sessions.SessionEvents`` for the relay: audit entries and the TURN issuance counter.

    An admission is recorded for the admitted participant only, an end for the host only: the audit log
    never names two people of one session together (no pair can be read back from it).
    """

    def __init__(self, ops: Operations) -> None:
        self._ops = ops

    async def admitted(self, session_id: str, account_id: str) -> None:
        await self._ops.audit.record(AuditEvent.SESSION_ADMITTED, account_id=account_id)

    async def ended(self, session_id: str, therapist_id: str, final_state: str) -> None:
        if final_state == "ended":
            await self._ops.audit.record(AuditEvent.SESSION_ENDED, account_id=therapist_id)

    def turn_issued(self) -> None:
        self._ops.metrics.turn_credentials_issued()
