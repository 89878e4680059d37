"""The composition root: settings -> storage -> broker -> services -> aiohttp app + socket.io server.

Nothing else in the code base constructs a store, a broker or a service, and no other module outside
``storage/`` names a concrete adapter (tests/server/test_composition.py checks it). Features plug in by
appending a module with ``register(ctx: AppContext)`` to ``FEATURES`` (signaling, metrics and admin do the
same).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

import socketio
from aiohttp import web

from server import _json, limits, openapi, realtime, realtime_sessions, shutdown, sweeper
from server.clock import Clock, system_clock
from server.config import Settings
from server.context import AppContext
from server.http import (
    account,
    accounts,
    auth,
    blobs,
    consent,
    custodian,
    health,
    keys,
    messages,
    practice,
    vault,
)
from server.http import admin as ops_admin
from server.http import web as web_client
from server.http.forwarded import TRUSTED_PROXIES_KEY, TrustedProxies
from server.http.middleware import error_middleware
from server.instrument import http_metrics_middleware
from server.operations import build_operations, instrument_socketio
from server.services import build_services
from server.services.invitations import CreatedInvitation
from storage.broker import Broker
from storage.memory_broker import MemoryBroker
from storage.mongodb import MongoStorage
from storage.protocols import Storage
from storage.records import Role
from storage.redis_broker import RedisBroker
from storage.redis_broker import socketio_manager as redis_socketio_manager
from storage.sqlite import SqliteStorage

__all__ = ["CTX_KEY", "FEATURES", "Feature", "build_app", "open_storage"]

log = logging.getLogger(__name__)

CTX_KEY: web.AppKey[AppContext] = web.AppKey("confidant_context", AppContext)


class Feature(Protocol):
    def register(self, ctx: AppContext) -> None: ...


# Order matters only for the web client, whose catch-all file route must come last.
FEATURES: tuple[ModuleType, ...] = (
    health,
    auth,
    accounts,
    keys,
    consent,
    messages,
    realtime,
    sweeper,
    ops_admin,
    realtime_sessions,
    account,
    blobs,
    vault,
    practice,
    custodian,
)
LAST_FEATURES: tuple[ModuleType, ...] = (web_client,)


def open_storage(settings: Settings) -> Storage:
    if settings.mongodb_uri:
        return MongoStorage.connect(settings.mongodb_uri)
    return SqliteStorage.open(settings.data_dir)


def open_broker(settings: Settings) -> Broker:
    if settings.redis_url:
        # Presence is re-published well within its TTL, so a dead node's entries expire and a
        # restarted (empty) Redis learns this node's devices again.
        return RedisBroker(settings.redis_url, heartbeat_seconds=limits.PRESENCE_TTL_SECONDS / 3)
    return MemoryBroker()


def client_manager(settings: Settings) -> socketio.AsyncManager:
    if settings.redis_url:
        return redis_socketio_manager(settings.redis_url, pull_now=_pull_after_lost_pushes)
    return socketio.AsyncManager()


async def _pull_after_lost_pushes(sio: socketio.AsyncServer) -> None:
    # Cross-node wake-ups were dropped while Redis was away (the envelopes are stored): a "pull now"
    # wake-up (position 0) makes every device connected to this node pull from its cursor (docs/API.md).
    await sio.emit("inbox", {"pos": 0}, ignore_queue=True)


@dataclass(frozen=True, slots=True)
class Built:
    app: web.Application
    ctx: AppContext


def build_app(
    settings: Settings,
    *,
    storage: Storage | None = None,
    broker: Broker | None = None,
    clock: Clock = system_clock,
    features: Sequence[Feature] = (),
) -> Built:
    """Build the whole server. ``storage``/``broker`` default to the configured adapters and are then
    owned (closed) by the app; passed-in ones stay owned by the caller. ``features`` are extra modules."""
    owns_storage = storage is None
    owns_broker = broker is None
    storage = storage if storage is not None else open_storage(settings)
    broker = broker if broker is not None else open_broker(settings)
    ops, storage, broker = build_operations(settings, storage, broker, clock)  # timed storage and broker
    # ``json=`` sets the codec on the packet class it is given; with the stock class that was the library's
    # base Packet, i.e. process-wide, and socket.io clients in this process (tests, tools) rely on it.
    socketio.packet.Packet.json = _json
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=client_manager(settings),
        max_http_buffer_size=limits.MAX_SOCKET_MESSAGE_BYTES,
        json=_json,
        serializer=_json.JsonPacket,
        logger=False,
        engineio_logger=False,
    )
    node_id = secrets.token_hex(8)
    services = build_services(
        settings, storage, broker, realtime.SocketNotifier(sio), clock, ops=ops, node_id=node_id
    )
    ctx = AppContext(
        settings=settings,
        storage=storage,
        broker=broker,
        clock=clock,
        services=services,
        sio=sio,
        node_id=node_id,
        ops=ops,
    )
    for feature in (*FEATURES, *features, *LAST_FEATURES):
        feature.register(ctx)
    instrument_socketio(ctx, ops)
    inflight = shutdown.track_socket_events(ctx.socket_events)  # a stopping node lets these finish
    realtime.bind_events(ctx)

    # Metrics inside the error mapping: they see the exception, hence the stable code of a refusal.
    middlewares = [error_middleware, http_metrics_middleware(ops.metrics)]
    app = web.Application(middlewares=middlewares, client_max_size=limits.MAX_HTTP_BODY_BYTES)
    app[CTX_KEY] = ctx
    app[TRUSTED_PROXIES_KEY] = TrustedProxies.parse(settings.trusted_proxies)
    sio.attach(app)
    document = openapi.build_openapi(ctx)

    async def openapi_json(request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/openapi.json", openapi_json)
    for route in ctx.routes:
        if route.method == "GET":  # HEAD too, wherever GET is (uptime monitors probe with HEAD)
            app.router.add_get(route.path, route.handler)
        else:
            app.router.add_route(route.method, route.path, route.handler)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_supervised(name, task), name=name) for name, task in ctx.background]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        close_manager = getattr(sio.manager, "aclose", None)  # the Redis manager's connections and listener
        if close_manager is not None:
            await close_manager()
        if owns_broker:
            await broker.close()
        if owns_storage:
            await storage.close()

    async def drain(app: web.Application) -> None:
        # aiohttp has closed the listeners; tell clients and close their sockets (server.shutdown).
        await shutdown.drain_sockets(sio, inflight)

    app.on_shutdown.append(drain)
    app.cleanup_ctx.append(lifecycle)
    if settings.public_url.startswith("https://"):
        # Users reach us over TLS (usually through a proxy): browsers must never fall back to plain HTTP.
        async def strict_transport(request: web.Request, response: web.StreamResponse) -> None:
            response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")

        app.on_response_prepare.append(strict_transport)
    return Built(app, ctx)


async def _supervised(name: str, task: Any) -> None:
    try:
        await task()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task crashed", extra={"task": name})


async def bootstrap_if_empty(ctx: AppContext) -> CreatedInvitation | None:
    """On an empty database, a fresh one-time admin invitation (the caller prints it)."""
    if await ctx.storage.accounts.count_accounts() > 0:
        return None
    return await ctx.services.invitations.create_by_operator(Role.ADMIN)
