"""Graceful shutdown of one node (SIGTERM / SIGINT on ``confidant serve``).

1. Stop accepting: the public and the metrics listeners close (a proxy's health check fails over).
2. Tell every device connected here: the documented ``server_shutdown`` event (docs/API.md), so clients
   show "Reconnecting..." and reconnect (to another node, or to this one once it is back) instead of
   waiting for a ping timeout.
3. Let socket events already being handled finish: their writes commit and their acks go out, so nothing a
   client saw acknowledged is lost. A client whose ack did not arrive resends with the same message id
   (the server deduplicates), so an event cut short is never lost either.
4. Close every socket.io connection here, then let aiohttp finish in-flight HTTP requests (bounded).

The whole sequence is bounded by ``limits.SHUTDOWN_*``: a node exits within a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

import msgspec
import socketio

from server import limits
from server.context import SocketEvent
from server.services.values import Principal

__all__ = ["SHUTDOWN_EVENT", "InFlight", "ShutdownEvent", "drain_sockets", "track_socket_events"]

log = logging.getLogger(__name__)

SHUTDOWN_EVENT = "server_shutdown"


class ShutdownEvent(msgspec.Struct, frozen=True):
    """``server_shutdown``: this node is stopping; reconnect after about ``reconnect_after_ms``."""

    reconnect_after_ms: int


class InFlight:
    """Socket events being handled on this node; shutdown waits until none is (bounded)."""

    def __init__(self) -> None:
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def running(self) -> int:
        return self._running

    def wrap(self, event: SocketEvent) -> SocketEvent:
        inner = event.handler

        async def handler(principal: Principal, data: Any) -> msgspec.Struct | None:
            self._running += 1
            self._idle.clear()
            try:
                return await inner(principal, data)
            finally:
                self._running -= 1
                if self._running == 0:
                    self._idle.set()

        return replace(event, handler=handler)

    async def wait_idle(self, timeout: float) -> bool:
        """True when nothing is running (any more); False when ``timeout`` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


def track_socket_events(events: dict[str, SocketEvent]) -> InFlight:
    """Wrap every registered socket event handler in place (once, after all features registered)."""
    inflight = InFlight()
    for name, event in list(events.items()):
        events[name] = inflight.wrap(event)
    return inflight


async def drain_sockets(sio: socketio.AsyncServer, inflight: InFlight) -> int:
    """Steps 2-4 for socket.io; returns how many connections were closed."""
    started = time.monotonic()
    notice = msgspec.to_builtins(ShutdownEvent(limits.SHUTDOWN_RECONNECT_AFTER_MS))
    # Only this node's devices: across nodes (Redis manager) the others stay up and keep theirs.
    await sio.emit(SHUTDOWN_EVENT, notice, ignore_queue=True)
    finished = await inflight.wait_idle(limits.SHUTDOWN_INFLIGHT_SECONDS)
    sids = [sid for sid, _ in sio.manager.get_participants("/", None)]
    for sid in sids:
        await sio.disconnect(sid, ignore_queue=True)
    # An event that arrived between the notice and the close still runs to its commit.
    finished = await inflight.wait_idle(limits.SHUTDOWN_INFLIGHT_SECONDS) and finished
    log.info(
        "connections closed for shutdown",
        extra={"connections": len(sids), "inflight_finished": finished,
               "duration_ms": round((time.monotonic() - started) * 1000, 1)},
    )
    return len(sids)
