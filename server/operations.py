"""Operations wiring for the composition root: metrics, audit log and readiness.

``build_operations`` is called by ``server.app.build_app`` before the services are built, so that the stores
and the broker the services receive are already the timed ones, and the services get the observer, the
audit recorder and the readiness checker through their constructors (``build_services``).
``instrument_socketio`` is called after every feature registered.
Nothing here is a module-level singleton: every app gets its own registry, so two nodes in one process
(tests) never share a series.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

from server.audit import AuditService
from server.audit_key import load_or_create_audit_key
from server.instrument import (
    observe_connections,
    timed_broker,
    timed_socket_events,
    timed_storage,
)
from server.metrics import PrometheusObserver
from server.readiness import STORAGE_WRITE_CHECK_SECONDS, ReadinessChecker, ThrottledCheck
from storage.broker import Broker
from storage.protocols import Storage

if TYPE_CHECKING:
    from server.clock import Clock
    from server.config import Settings
    from server.context import AppContext

__all__ = ["Operations", "build_operations", "instrument_socketio", "sample_forever"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Operations:
    metrics: PrometheusObserver  # also the Observer every service reports to
    audit: AuditService
    readiness: ReadinessChecker
    sample_seconds: float


def _version() -> str:
    try:
        return metadata.version("confidant")
    except metadata.PackageNotFoundError:
        return "0"


def build_operations(
    settings: Settings, storage: Storage, broker: Broker, clock: Clock
) -> tuple[Operations, Storage, Broker]:
    """The node's operations bundle, plus the timed storage and broker to hand to the services."""
    metrics = PrometheusObserver(_version())
    timed = timed_storage(storage, metrics)
    brokered = timed_broker(broker, metrics)
    heartbeat = ThrottledCheck(lambda: timed.put_heartbeat(clock()), STORAGE_WRITE_CHECK_SECONDS, clock)

    async def storage_ready() -> None:
        await timed.ping()  # a read, every time: cheap
        await heartbeat()  # a committed write, at most every few seconds

    readiness = ReadinessChecker.for_deployment(storage_ready, brokered.ping, settings.turn_urls, metrics)
    interval = float(settings.metrics_interval_seconds)
    audit = AuditService(timed.audit, metrics, load_or_create_audit_key(settings.audit_key_path))
    ops = Operations(metrics, audit, readiness, interval)
    return ops, timed, brokered


def instrument_socketio(ctx: AppContext, ops: Operations) -> None:
    """After every feature registered, before the events are bound."""
    timed_socket_events(ctx.socket_events, ops.metrics)
    observe_connections(ctx.sio, ops.metrics)


async def sample_once(ctx: AppContext, ops: Operations) -> None:
    """One periodic aggregate sample: backlog, video sessions by state, dependency status."""
    now = ctx.clock()
    try:
        backlog = await ctx.storage.ops.get_backlog(now)
        oldest = (now - backlog.oldest_sent_at) / 1000 if backlog.oldest_sent_at is not None else 0.0
        ops.metrics.mailbox_backlog(backlog.envelopes, oldest)
        ops.metrics.signaling_sessions(await ctx.storage.ops.count_sessions_by_state())
    except Exception as exc:  # storage down: the dependency gauge below says so; keep sampling
        log.warning("metrics sample failed", extra={"error": type(exc).__name__})
    await ops.readiness.check()


async def sample_forever(ctx: AppContext, ops: Operations) -> None:
    while True:
        await sample_once(ctx, ops)
        await asyncio.sleep(ops.sample_seconds)  # the sampling period, not a synchronisation
