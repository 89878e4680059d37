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

__all__ = ["AppContext", "BackgroundTask", "ConnectHook", "Handler", "Route", "SocketEvent", "SocketHandler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SocketHandler = Callable[[Principal, Any], Awaitable[msgspec.Struct | None]]
BackgroundTask = Callable[[], Awaitable[None]]
ConnectHook = Callable[[Principal], Awaitable[None]]


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
    ops: Operations  # metrics, audit log, aggregate reads, readiness (server.operations)
    routes: list[Route] = field(default_factory=list)
    socket_events: dict[str, SocketEvent] = field(default_factory=dict)
    background: list[tuple[str, BackgroundTask]] = field(default_factory=list)
    connect_hooks: list[ConnectHook] = field(default_factory=list)

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
