"""Prometheus metrics of one relay node: the :class:`~server.observability.Observer` that counts.

Every node owns its own ``CollectorRegistry`` (never the library's global default), so two nodes in one
process (tests) or a re-created app never share or double-register series. Labels only ever take values
from fixed sets: error codes, socket event names and route templates written in our code, enum values.
``LABEL_VALUES`` below is that allow-list; tests check every exported sample against it. Anything that
could name a person (account, device, session or message id) is never a label: it would be both a privacy
leak and a cardinality explosion.

Exposition is the Prometheus text format at ``GET /metrics``. The admin dashboard reads the same figures
through :meth:`PrometheusObserver.snapshot` (aggregates only), so the two can never disagree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from server.observability import DeliveryPath, DeliveryTracker, Dependency

__all__ = [
    "CONTENT_TYPE",
    "DELIVERY_BUCKETS",
    "ERROR_CODES",
    "LABEL_VALUES",
    "SESSION_STATES",
    "PrometheusObserver",
    "exported_sample_names",
    "metric_names",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Stable wire error codes (docs/API.md). A code outside this set is counted as "other".
ERROR_CODES: frozenset[str] = frozenset({
    "bad_request", "invalid_field", "payload_too_large", "unsupported_version", "unauthenticated",
    "challenge_invalid", "signature_invalid", "forbidden", "not_linked", "consent_required",
    "invitation_invalid", "not_found", "method_not_allowed", "conflict", "device_set_mismatch",
    "limit_reached", "rate_limited", "quota_exceeded", "range_not_satisfiable",
    "storage_unavailable", "internal", "other",
})
SESSION_STATES: frozenset[str] = frozenset({"scheduled", "open", "in_progress", "ended", "cancelled"})
AUDIT_EVENTS: frozenset[str] = frozenset({
    "account_registered", "login", "login_failed", "device_added", "device_revoked", "key_changed",
    "consent_accepted", "session_admitted", "session_ended", "admin_invitation_created",
    "admin_invitation_revoked", "admin_account_disabled", "admin_account_enabled", "admin_device_revoked",
    "admin_practice_changed", "other",
})
HTTP_METHODS: frozenset[str] = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
)

# Live pushes take milliseconds; drains after a reconnect can take days (the TTL is 30 days).
DELIVERY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 1800.0, 3600.0, 21600.0, 86400.0, 604800.0,
)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OPERATION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)

# Route templates, socket event names, store and operation names come from our code, never from input;
# they are checked for shape here so that a future caller passing a raw path or an id fails closed.
_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,47}$")  # "call.join" is a socket event name
_ROUTE = re.compile(r"^/[A-Za-z0-9_./{}-]{0,200}$|^unmatched$")
_ID_LIKE = re.compile(r"[0-9a-f]{16,}")

# label name -> allowed values; None means "from a fixed set defined in code" (checked by shape above).
LABEL_VALUES: dict[str, frozenset[str] | None] = {
    "path": frozenset(p.value for p in DeliveryPath),
    "code": ERROR_CODES,
    "outcome": ERROR_CODES | {"ok"},
    "dependency": frozenset(d.value for d in Dependency),
    "state": SESSION_STATES,
    "event": None,  # socket event names and audit event names (see AUDIT_EVENTS)
    "route": None,  # aiohttp route templates, e.g. /api/v1/devices/{device_id}
    "method": HTTP_METHODS,
    "status": None,  # HTTP status codes: three digits
    "store": None,  # storage aggregate names, e.g. mailbox
    "op": None,  # Protocol method names, e.g. add_send
    "version": None,  # the package version
}


def _code(value: str) -> str:
    return value if value in ERROR_CODES else "other"


@functools.lru_cache(maxsize=512)  # two regexes per call, several calls per message; bounded
def _name(value: str) -> str:
    return value if _NAME.match(value) and not _ID_LIKE.search(value) else "other"


def _route(value: str) -> str:
    return value if _ROUTE.match(value) and not _ID_LIKE.search(value) else "unmatched"


@dataclass(frozen=True, slots=True)
class _Families:
    connected: Gauge
    accepted: Counter
    rejected: Counter
    delivered: Counter
    acknowledged: Counter
    expired: Counter
    latency: Histogram
    backlog: Gauge
    backlog_age: Gauge
    connects_refused: Counter
    socket_events: Counter
    socket_seconds: Histogram
    http_requests: Counter
    http_seconds: Histogram
    storage_seconds: Histogram
    storage_errors: Counter
    broker_seconds: Histogram
    broker_errors: Counter
    dependency_up: Gauge
    dependency_seconds: Gauge
    sessions: Gauge
    turn_credentials: Counter
    audit_entries: Counter
    build_info: Gauge


def _families(registry: CollectorRegistry) -> _Families:
    r = registry
    return _Families(
        connected=Gauge("confidant_connected_devices",
                        "Devices with an open realtime connection to this node.", registry=r),
        accepted=Counter("confidant_envelopes_accepted",
                         "Envelopes durably stored for delivery (one per recipient device).", registry=r),
        rejected=Counter("confidant_sends_rejected",
                         "Sends refused before anything was stored, by error code.", ["code"], registry=r),
        delivered=Counter("confidant_envelopes_delivered",
                          "Envelopes handed to a recipient device (live push or mailbox drain); "
                          "at-least-once, so a redelivery counts again.", ["path"], registry=r),
        acknowledged=Counter("confidant_envelopes_acknowledged",
                             "Envelopes acknowledged by their recipient device and deleted.", registry=r),
        expired=Counter("confidant_envelopes_expired",
                        "Envelopes deleted undelivered when their TTL ran out.", registry=r),
        latency=Histogram("confidant_delivery_latency_seconds",
                          "Time from a send's acceptance to the envelope reaching the recipient device.",
                          ["path"], buckets=DELIVERY_BUCKETS, registry=r),
        backlog=Gauge("confidant_mailbox_backlog_envelopes",
                      "Envelopes stored and not yet acknowledged, all mailboxes (periodic query).",
                      registry=r),
        backlog_age=Gauge("confidant_mailbox_oldest_age_seconds",
                          "Age of the oldest unacknowledged envelope (periodic query); 0 when empty.",
                          registry=r),
        connects_refused=Counter("confidant_socket_connects_refused",
                                 "Realtime connections refused, by error code.", ["code"], registry=r),
        socket_events=Counter("confidant_socket_events",
                              "Realtime events handled, by event name and outcome (ok or error code).",
                              ["event", "outcome"], registry=r),
        socket_seconds=Histogram("confidant_socket_event_duration_seconds",
                                 "Time to handle one realtime event.", ["event"],
                                 buckets=REQUEST_BUCKETS, registry=r),
        http_requests=Counter("confidant_http_requests",
                              "HTTP requests, by route template, method and status.",
                              ["route", "method", "status"], registry=r),
        http_seconds=Histogram("confidant_http_request_duration_seconds",
                               "Time to answer one HTTP request, by route template.", ["route", "method"],
                               buckets=REQUEST_BUCKETS, registry=r),
        storage_seconds=Histogram("confidant_storage_operation_duration_seconds",
                                  "Time of one storage operation, by store and operation.", ["store", "op"],
                                  buckets=OPERATION_BUCKETS, registry=r),
        storage_errors=Counter("confidant_storage_operation_errors",
                               "Storage operations that raised StorageUnavailable.", ["store", "op"],
                               registry=r),
        broker_seconds=Histogram("confidant_broker_operation_duration_seconds",
                                 "Time of one broker operation (publish, presence).", ["op"],
                                 buckets=OPERATION_BUCKETS, registry=r),
        broker_errors=Counter("confidant_broker_operation_errors",
                              "Broker operations that failed.", ["op"], registry=r),
        dependency_up=Gauge("confidant_dependency_up",
                            "1 when the last readiness check of the dependency passed, else 0.",
                            ["dependency"], registry=r),
        dependency_seconds=Gauge("confidant_dependency_check_duration_seconds",
                                 "Duration of the last readiness check of the dependency.",
                                 ["dependency"], registry=r),
        sessions=Gauge("confidant_signaling_sessions",
                       "Video sessions by state (periodic query).", ["state"], registry=r),
        turn_credentials=Counter("confidant_turn_credentials_issued",
                                 "TURN credentials minted for participants.", registry=r),
        audit_entries=Counter("confidant_audit_entries",
                              "Security events appended to the audit log, by event kind.", ["event"],
                              registry=r),
        build_info=Gauge("confidant_build_info", "Always 1; the running version.", ["version"], registry=r),
    )


class PrometheusObserver:
    """Counts what services report. One instance per node, created by the composition root."""

    def __init__(self, version: str = "0", *, process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._m = _families(self.registry)
        # labels() validates and locks on every call. The family keeps every child it ever made anyway, so
        # remembering them here only skips that work on the hot path (every send, storage and broker call).
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        self._deliveries = DeliveryTracker(self)
        if process_metrics:
            ProcessCollector(registry=self.registry)
        self._m.build_info.labels(version=version).set(1)
        for path in DeliveryPath:  # series exist from the start: rate() and the dashboard see zeros
            self._m.delivered.labels(path=path.value)
            self._m.latency.labels(path=path.value)
        for state in sorted(SESSION_STATES):
            self._m.sessions.labels(state=state).set(0)

    # --- Observer ---------------------------------------------------------------------------------
    def envelopes_accepted(self, count: int) -> None:
        self._m.accepted.inc(count)

    def _child(self, family: Any, *values: str) -> Any:
        """``family.labels(*values)`` (values in the family's label order), bound once."""
        key = (family, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*values)
        return child

    def send_rejected(self, code: str) -> None:
        self._child(self._m.rejected, _code(code)).inc()

    def envelopes_delivered(self, path: DeliveryPath, sent_at: Iterable[int], now: int) -> None:
        label = DeliveryPath(path).value
        histogram = self._child(self._m.latency, label)
        count = 0
        for accepted_ms in sent_at:
            histogram.observe(max(0, now - accepted_ms) / 1000.0)
            count += 1
        if count:
            self._child(self._m.delivered, label).inc(count)

    def envelopes_handed_out(self, path: DeliveryPath, device_id: str, items: Iterable[tuple[int, int]],
                             now: int) -> None:
        self._deliveries.handed_out(path, device_id, items, now)

    def envelopes_acknowledged(self, count: int) -> None:
        if count > 0:
            self._m.acknowledged.inc(count)

    def envelopes_expired(self, count: int) -> None:
        if count > 0:
            self._m.expired.inc(count)

    def mailbox_backlog(self, count: int, oldest_age_seconds: float) -> None:
        self._m.backlog.set(count)
        self._m.backlog_age.set(max(0.0, oldest_age_seconds))

    def device_connected(self) -> None:
        self._m.connected.inc()

    def device_disconnected(self) -> None:
        self._m.connected.dec()

    def socket_connect_refused(self, code: str) -> None:
        self._m.connects_refused.labels(code=_code(code)).inc()

    def socket_event(self, event: str, outcome: str, seconds: float) -> None:
        name = _name(event)
        result = "ok" if outcome == "ok" else _code(outcome)
        self._child(self._m.socket_events, name, result).inc()
        self._child(self._m.socket_seconds, name).observe(seconds)

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        template = _route(route)
        verb = method if method in HTTP_METHODS else "other"
        code = str(status) if 100 <= status <= 599 else "other"
        self._child(self._m.http_requests, template, verb, code).inc()
        self._child(self._m.http_seconds, template, verb).observe(seconds)

    def storage_operation(self, store: str, op: str, seconds: float, ok: bool) -> None:
        names = (_name(store), _name(op))
        self._child(self._m.storage_seconds, *names).observe(seconds)
        if not ok:
            self._child(self._m.storage_errors, *names).inc()

    def broker_operation(self, op: str, seconds: float, ok: bool) -> None:
        name = _name(op)
        self._child(self._m.broker_seconds, name).observe(seconds)
        if not ok:
            self._child(self._m.broker_errors, name).inc()

    def dependency_status(self, dependency: Dependency, up: bool, seconds: float) -> None:
        name = Dependency(dependency).value
        self._m.dependency_up.labels(dependency=name).set(1 if up else 0)
        self._m.dependency_seconds.labels(dependency=name).set(seconds)

    def signaling_sessions(self, counts: Mapping[str, int]) -> None:
        for state in sorted(SESSION_STATES):
            self._m.sessions.labels(state=state).set(counts.get(state, 0))

    def turn_credentials_issued(self) -> None:
        self._m.turn_credentials.inc()

    def audit_appended(self, event: str) -> None:
        self._m.audit_entries.labels(event=event if event in AUDIT_EVENTS else "other").inc()

    # --- exposition -------------------------------------------------------------------------------
    def render(self) -> bytes:
        """The Prometheus text exposition of this node's registry."""
        return generate_latest(self.registry)

    def snapshot(self) -> dict[str, Any]:
        """Aggregates for the admin dashboard: totals, histogram buckets and gauges, nothing per person.

        Counters are cumulative since the node started; the dashboard derives rates and windowed
        percentiles from the difference between two snapshots.
        """
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in self.registry.collect():
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))

        def total(name: str, **match: str) -> float:
            return sum(v for labels, v in samples.get(name, [])
                       if all(labels.get(k) == want for k, want in match.items()))

        def by(name: str, key: str) -> dict[str, float]:
            out: dict[str, float] = {}
            for labels, value in samples.get(name, []):
                out[labels[key]] = out.get(labels[key], 0.0) + value
            return out

        def buckets(name: str) -> list[list[float]]:
            # Finite upper bounds only (JSON has no infinity): the +Inf bucket equals "count".
            merged: dict[float, float] = {}
            for labels, value in samples.get(name + "_bucket", []):
                bound = float(labels["le"])
                if bound == float("inf"):
                    continue
                merged[bound] = merged.get(bound, 0.0) + value
            return [[bound, merged[bound]] for bound in sorted(merged)]

        http_by_status = by("confidant_http_requests_total", "status")
        socket_by_outcome = by("confidant_socket_events_total", "outcome")
        return {
            "connected_devices": total("confidant_connected_devices"),
            "envelopes": {
                "accepted": total("confidant_envelopes_accepted_total"),
                "delivered": total("confidant_envelopes_delivered_total"),
                "acknowledged": total("confidant_envelopes_acknowledged_total"),
                "expired": total("confidant_envelopes_expired_total"),
                "rejected": total("confidant_sends_rejected_total"),
                "rejected_by_code": by("confidant_sends_rejected_total", "code"),
            },
            "delivery_latency": {
                "buckets": buckets("confidant_delivery_latency_seconds"),
                "count": total("confidant_delivery_latency_seconds_count"),
                "sum": total("confidant_delivery_latency_seconds_sum"),
            },
            "backlog": {
                "envelopes": total("confidant_mailbox_backlog_envelopes"),
                "oldest_age_seconds": total("confidant_mailbox_oldest_age_seconds"),
            },
            "http": {
                "requests": sum(http_by_status.values()),
                "client_errors": sum(v for k, v in http_by_status.items() if k.startswith("4")),
                "server_errors": sum(v for k, v in http_by_status.items() if k.startswith("5")),
            },
            "socket": {
                "events": sum(socket_by_outcome.values()),
                "errors": sum(v for k, v in socket_by_outcome.items() if k != "ok"),
                "connects_refused": total("confidant_socket_connects_refused_total"),
            },
            "dependencies": {k: bool(v) for k, v in by("confidant_dependency_up", "dependency").items()},
            "signaling_sessions": {k: int(v) for k, v in by("confidant_signaling_sessions", "state").items()},
            "turn_credentials_issued": total("confidant_turn_credentials_issued_total"),
        }


def exported_sample_names(registry: CollectorRegistry) -> frozenset[str]:
    """Every sample name the registry can expose, including series that have no child yet."""
    names: set[str] = set()
    for family in registry.collect():
        kind = family.type
        base = family.name
        if kind == "counter":
            names.update({base + "_total", base + "_created"})
        elif kind == "histogram":
            names.update({base + "_bucket", base + "_sum", base + "_count", base + "_created"})
        elif kind == "summary":
            names.update({base, base + "_sum", base + "_count", base + "_created"})
        elif kind == "info":
            names.add(base + "_info")
        else:
            names.add(base)
        names.update(sample.name for sample in family.samples)
    return frozenset(names)


def metric_names() -> frozenset[str]:
    """Every sample name a node exports (for checking dashboards and alert rules against)."""
    return exported_sample_names(PrometheusObserver().registry)
