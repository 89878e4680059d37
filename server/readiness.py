"""Dependency checks behind ``GET /readyz``, the ``confidant_dependency_up`` gauges and the admin dashboard.

Each check is bounded by ``CHECK_TIMEOUT_SECONDS``: a dependency slower than that is not ready for traffic.
Storage is checked by a read AND a write: a database that still answers reads but cannot commit (full disk,
read-only file system, no primary) must take the node out of rotation. The write (``put_heartbeat``, a
one-row upsert through the normal writer) runs at most once per ``STORAGE_WRITE_CHECK_SECONDS`` whatever
the polling rate, its outcome replayed in between (``ThrottledCheck``).
TURN is checked only when configured, with a STUN Binding request (RFC 5389 section 7) to each TURN URL:
coturn answers it without credentials, so the check proves the relay is reachable without minting anything.
The reason for a failure goes to the log and to the detail (an exception class name, never a message that
could carry a connection string).
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from server.observability import Dependency, NullObserver, Observer
from storage.errors import describe

__all__ = [
    "CHECK_TIMEOUT_SECONDS",
    "STORAGE_WRITE_CHECK_SECONDS",
    "DependencyStatus",
    "ReadinessChecker",
    "ThrottledCheck",
    "stun_ping",
]

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
STORAGE_WRITE_CHECK_SECONDS = 5.0  # load balancers poll every 1-2 s: a write per poll would be write load
_MAGIC_COOKIE = 0x2112A442
_BINDING_REQUEST = 0x0001
_BINDING_SUCCESS = 0x0101

Ping = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DependencyStatus:
    name: str
    ok: bool
    latency_ms: float
    error: str | None = None  # exception class name, for the operator

    def to_wire(self) -> dict[str, object]:
        out: dict[str, object] = {"status": "ok" if self.ok else "unavailable",
                                  "latency_ms": round(self.latency_ms, 2)}
        if self.error:
            out["error"] = self.error
        return out


class _StunProtocol(asyncio.DatagramProtocol):
    def __init__(self, transaction: bytes) -> None:
        self.transaction = transaction
        self.answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if len(data) >= 20 and not self.answer.done():
            kind, _, cookie = struct.unpack("!HHI", data[:8])
            if kind == _BINDING_SUCCESS and cookie == _MAGIC_COOKIE and data[8:20] == self.transaction:
                self.answer.set_result(None)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


def _parse_turn_url(url: str) -> tuple[str, int, str]:
    """``turn:host:port?transport=udp`` -> (host, port, transport)."""
    scheme, _, rest = url.partition(":")
    target, _, query = rest.partition("?")
    parts = urlsplit("//" + target)
    secure = scheme == "turns"
    transport = "tcp" if secure else "udp"
    for item in query.split("&"):
        key, _, value = item.partition("=")
        if key == "transport" and value in ("udp", "tcp"):
            transport = value
    if parts.hostname is None:
        raise ValueError(f"no host in TURN URL {url!r}")
    return parts.hostname, parts.port or (5349 if secure else 3478), "tls" if secure else transport


async def stun_ping(url: str, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
    """Raise unless the TURN server at ``url`` answers a STUN Binding request (TLS: accepts a connection)."""
    host, port, transport = _parse_turn_url(url)
    transaction = os.urandom(12)
    request = struct.pack("!HHI", _BINDING_REQUEST, 0, _MAGIC_COOKIE) + transaction
    loop = asyncio.get_running_loop()
    if transport == "udp":
        sock, protocol = await loop.create_datagram_endpoint(lambda: _StunProtocol(transaction),
                                                             remote_addr=(host, port))
        try:
            for _ in range(3):  # UDP may drop one datagram: retransmit within the budget
                sock.sendto(request)
                try:
                    await asyncio.wait_for(asyncio.shield(protocol.answer), timeout / 3)
                    return
                except TimeoutError:
                    continue
            raise TimeoutError("no STUN answer")
        finally:
            sock.close()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        if transport == "tls":
            return  # reachable; a TLS handshake would need the deployment's certificate
        writer.write(request)
        await writer.drain()
        header = await asyncio.wait_for(reader.readexactly(20), timeout)
        kind, _, cookie = struct.unpack("!HHI", header[:8])
        if kind != _BINDING_SUCCESS or cookie != _MAGIC_COOKIE or header[8:20] != transaction:
            raise ConnectionError("unexpected STUN answer")
    finally:
        writer.close()


class ThrottledCheck:
    """Runs ``check`` at most once per ``interval_s`` (``clock`` in milliseconds) and replays its outcome in
    between. One run at a time: callers that time out stop waiting, the run goes on and its outcome counts."""

    def __init__(self, check: Ping, interval_s: float, clock: Callable[[], int]) -> None:
        self._check = check
        self._interval_ms = interval_s * 1000
        self._clock = clock
        self._ran_at: int | None = None
        self._failure: Exception | None = None
        self._running: asyncio.Task[None] | None = None

    async def __call__(self) -> None:
        elapsed = None if self._ran_at is None else self._clock() - self._ran_at
        due = elapsed is None or not 0 <= elapsed < self._interval_ms  # < 0: the wall clock was set back
        if self._running is None and due:
            self._running = asyncio.create_task(self._run())
            self._running.add_done_callback(_retrieve)
        if self._running is not None:
            await asyncio.shield(self._running)
        elif self._failure is not None:
            raise self._failure.with_traceback(None)

    async def _run(self) -> None:
        try:
            await self._check()
        except Exception as exc:
            self._failure = exc
            raise
        else:
            self._failure = None
        finally:
            self._ran_at = self._clock()
            self._running = None


def _retrieve(task: asyncio.Task[None]) -> None:
    # Every waiter may have timed out: mark the outcome as seen (it is kept in ThrottledCheck._failure).
    if not task.cancelled():
        task.exception()


class ReadinessChecker:
    """Runs every configured check concurrently and records each result with the observer."""

    def __init__(self, checks: dict[Dependency, Ping],
                 observer: Observer | None = None) -> None:
        self._checks = checks
        self._observer: Observer = observer or NullObserver()
        self.last: dict[str, DependencyStatus] = {}

    @classmethod
    def for_deployment(cls, ping_storage: Ping, ping_broker: Ping, turn_urls: tuple[str, ...],
                       observer: Observer | None = None) -> ReadinessChecker:
        checks: dict[Dependency, Ping] = {
            Dependency.STORAGE: ping_storage,
            Dependency.BROKER: ping_broker,
        }
        if turn_urls:
            async def ping_turn() -> None:
                await asyncio.gather(*(stun_ping(url) for url in turn_urls))

            checks[Dependency.TURN] = ping_turn
        return cls(checks, observer)

    async def _run(self, dependency: Dependency, check: Ping) -> DependencyStatus:
        start = time.perf_counter()
        error: str | None = None
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:  # any failure means "not ready"; the body keeps only the class name
            error = type(exc).__name__
            log.warning("readiness check failed",
                        extra={"dependency": dependency.value, "error": describe(exc)})
        elapsed = time.perf_counter() - start
        self._observer.dependency_status(dependency, error is None, elapsed)
        return DependencyStatus(dependency.value, error is None, elapsed * 1000, error)

    async def check(self) -> dict[str, DependencyStatus]:
        results = await asyncio.gather(*(self._run(dep, fn) for dep, fn in self._checks.items()))
        self.last = {status.name: status for status in results}
        return self.last
