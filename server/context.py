"""AppContext: what feature modules receive in ``register(ctx)``.

A feature module (HTTP views, socket events, background tasks) adds itself by appending to
``server.app.FEATURES``; it registers through the three methods below and never builds anything itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
import socketio
from aiohttp import web

from server.clock import Clock
from server.config import Settings
from server.services import Services
from server.services.values import Principal
from storage.broker import Broker
from storage.protocols import Storage

if TYPE_CHECKING:
    from server.operations import Operations

__all__ = [
    "AppContext",
    "BackgroundTask",
    "ConnectHook",
    "DisconnectHook",
    "Handler",
    "LocalConnections",
    "Route",
    "SocketEvent",
    "SocketHandler",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SocketHandler = Callable[[Principal, Any], Awaitable[msgspec.Struct | None]]
BackgroundTask = Callable[[], Awaitable[None]]
ConnectHook = Callable[[Principal], Awaitable[None]]
DisconnectHook = Callable[[Principal], Awaitable[None]]


class LocalConnections:
    """Live socket.io connections per device on this node; counted by ``server.realtime``."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def opened(self, device_id: str) -> None:
        self._counts[device_id] = self._counts.get(device_id, 0) + 1

    def closed(self, device_id: str) -> bool:
        """Count one connection gone; True when it was the device's last one on this node."""
        left = self._counts.get(device_id, 1) - 1
        if left > 0:
            self._counts[device_id] = left
            return False
        self._counts.pop(device_id, None)
        return True

    def count(self, device_id: str) -> int:
        return self._counts.get(device_id, 0)

    def devices(self) -> list[str]:
        return list(self._counts)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str  # aiohttp syntax, e.g. /api/v1/devices/{device_id}
    handler: Handler
    summary: str
    tag: str
    body: type[msgspec.Struct] | None = None
    response: type[msgspec.Struct] | None = None
    auth: bool = True
    status: int = 200
    documented: bool = True  # False only for non-API routes (static web client files)


@dataclass(frozen=True, slots=True)
class SocketEvent:
    name: str
    handler: SocketHandler
    payload: type[msgspec.Struct] | None
    result: type[msgspec.Struct] | None
    summary: str


@dataclass
class AppContext:
    settings: Settings
    storage: Storage
    broker: Broker
    clock: Clock
    services: Services
    sio: socketio.AsyncServer
    node_id: str
    ops: Operations  # metrics, audit log, readiness (server.operations)
    routes: list[Route] = field(default_factory=list)
    socket_events: dict[str, SocketEvent] = field(default_factory=dict)
    background: list[tuple[str, BackgroundTask]] = field(default_factory=list)
    connect_hooks: list[ConnectHook] = field(default_factory=list)
    disconnect_hooks: list[DisconnectHook] = field(default_factory=list)
    connections: LocalConnections = field(default_factory=LocalConnections)

    def add_route(self, route: Route) -> None:
        self.routes.append(route)

    def add_socket_event(self, event: SocketEvent) -> None:
        if event.name in self.socket_events:
            raise ValueError(f"socket event {event.name!r} registered twice")
        self.socket_events[event.name] = event

    def add_background(self, name: str, task: BackgroundTask) -> None:
        """A coroutine started with the app and cancelled at shutdown (e.g. a sweeper loop)."""
        self.background.append((name, task))

    def on_connect(self, hook: ConnectHook) -> None:
        """Called after a device's socket connected and joined its rooms."""
        self.connect_hooks.append(hook)

    def on_disconnect(self, hook: DisconnectHook) -> None:
        """Called after a device's last socket on this node closed (its presence here is cleared).

        Runs after the disconnect, concurrently with anything else: the device may have connected again by
        then (``connections``, or the broker's presence for other nodes), so a hook re-checks that before
        changing state on its behalf.
        """
        self.disconnect_hooks.append(hook)
