"""What services report about the relay's health, without naming anybody.

Services, transports and stores call an :class:`Observer`; they never import a metrics library.
The composition root passes one implementation down: :class:`NullObserver` (tests, CLI tools) or
``server.metrics.PrometheusObserver``. Every argument is an aggregate or a value from a fixed set
(an error code, an event name, a route template). The one exception is ``envelopes_handed_out``, which
takes the recipient device id to count each envelope once (see :class:`DeliveryTracker`); it stays in a
node-local map and never reaches a metric. Account ids never cross this interface.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Protocol

__all__ = [
    "DeliveryPath",
    "DeliveryTracker",
    "Dependency",
    "NullObserver",
    "Observer",
]


class DeliveryPath(StrEnum):
    LIVE = "live"  # no longer produced: pushes are wake-ups, every hand-out is a sync (kept for dashboards)
    SYNC = "sync"  # handed out when the device drained its mailbox (reconnect, HTTP fallback)


class Dependency(StrEnum):
    STORAGE = "storage"
    BROKER = "broker"
    TURN = "turn"


class Observer(Protocol):
    # Messaging. ``sent_at`` values are the envelopes' acceptance times (ms): the observer turns
    # them into send -> deliver latencies without learning who sent what to whom.
    def envelopes_accepted(self, count: int) -> None: ...

    def send_rejected(self, code: str) -> None: ...

    def envelopes_delivered(self, path: DeliveryPath, sent_at: Iterable[int], now: int) -> None: ...

    def envelopes_handed_out(self, path: DeliveryPath, device_id: str, items: Iterable[tuple[int, int]],
                             now: int) -> None:
        """(stream position, acceptance ms) of envelopes handed to a device: first hand-outs are delivered."""
        ...

    def envelopes_acknowledged(self, count: int) -> None: ...

    def envelopes_expired(self, count: int) -> None: ...

    def mailbox_backlog(self, count: int, oldest_age_seconds: float) -> None: ...

    # Realtime and HTTP transport.
    def device_connected(self) -> None: ...

    def device_disconnected(self) -> None: ...

    def socket_connect_refused(self, code: str) -> None: ...

    def socket_event(self, event: str, outcome: str, seconds: float) -> None: ...

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None: ...

    # Dependencies.
    def storage_operation(self, store: str, op: str, seconds: float, ok: bool) -> None: ...

    def broker_operation(self, op: str, seconds: float, ok: bool) -> None: ...

    def dependency_status(self, dependency: Dependency, up: bool, seconds: float) -> None: ...

    # Video sessions and security events.
    def signaling_sessions(self, counts: Mapping[str, int]) -> None: ...

    def turn_credentials_issued(self) -> None: ...

    def audit_appended(self, event: str) -> None: ...


class NullObserver:
    """Reports nothing: for tests of services and for one-shot CLI commands."""

    def envelopes_accepted(self, count: int) -> None:
        pass

    def send_rejected(self, code: str) -> None:
        pass

    def envelopes_delivered(self, path: DeliveryPath, sent_at: Iterable[int], now: int) -> None:
        pass

    def envelopes_handed_out(self, path: DeliveryPath, device_id: str, items: Iterable[tuple[int, int]],
                             now: int) -> None:
        pass

    def envelopes_acknowledged(self, count: int) -> None:
        pass

    def envelopes_expired(self, count: int) -> None:
        pass

    def mailbox_backlog(self, count: int, oldest_age_seconds: float) -> None:
        pass

    def device_connected(self) -> None:
        pass

    def device_disconnected(self) -> None:
        pass

    def socket_connect_refused(self, code: str) -> None:
        pass

    def socket_event(self, event: str, outcome: str, seconds: float) -> None:
        pass

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        pass

    def storage_operation(self, store: str, op: str, seconds: float, ok: bool) -> None:
        pass

    def broker_operation(self, op: str, seconds: float, ok: bool) -> None:
        pass

    def dependency_status(self, dependency: Dependency, up: bool, seconds: float) -> None:
        pass

    def signaling_sessions(self, counts: Mapping[str, int]) -> None:
        pass

    def turn_credentials_issued(self) -> None:
        pass

    def audit_appended(self, event: str) -> None:
        pass


class DeliveryTracker:
    """Reports each envelope as delivered once, at its first hand-out to its device (push or drain).

    Clients treat a push as a wake-up and then drain, and delivery is at-least-once, so the same envelope is
    usually handed out twice. The tracker keeps, per device, the highest stream position already handed out
    on this node (a bounded LRU map in memory, never exported: the observer only receives acceptance times).
    An envelope another node already pushed may be counted again here; that is the documented error bar.
    """

    def __init__(self, observer: Observer, max_devices: int = 100_000) -> None:
        self._observer = observer
        self._max = max_devices
        self._high: OrderedDict[str, int] = OrderedDict()

    def handed_out(self, path: DeliveryPath, device_id: str, items: Iterable[tuple[int, int]],
                   now: int) -> None:
        """``items``: (stream position, acceptance time ms) of the envelopes just handed to the device."""
        high = self._high.get(device_id, 0)
        fresh: list[int] = []
        top = high
        for pos, sent_at in items:
            if pos > high:
                fresh.append(sent_at)
            top = max(top, pos)
        if top > high:
            self._high[device_id] = top
            self._high.move_to_end(device_id)
            while len(self._high) > self._max:
                self._high.popitem(last=False)
        if fresh:
            self._observer.envelopes_delivered(path, fresh, now)
