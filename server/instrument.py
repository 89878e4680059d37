"""Timing wrappers applied by the composition root, so that stores, the broker, HTTP views and socket
handlers report to the :class:`~server.observability.Observer` without containing a line about it.

* ``timed_storage`` / ``timed_broker``: proxies that time every coroutine method of every store.
  Only ``StorageUnavailable`` (or any broker exception) counts as a failed operation: an application-level
  refusal such as ``InvitationUnusable`` means the database answered.
* ``http_metrics_middleware``: route *template* (``/api/v1/devices/{device_id}``), method, status; refused
  sends by error code. Installed inside the error middleware, so it sees the exception and its code.
* ``timed_socket_events``: the outcome of a socket.io event is ``ok`` or the stable error code.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import socketio
from aiohttp import web

from server.clock import Clock
from server.context import SocketEvent
from server.errors import to_app_error
from server.observability import DeliveryPath, Observer
from server.services.values import Principal
from storage.broker import Broker
from storage.errors import StorageUnavailable
from storage.protocols import Storage

__all__ = [
    "http_metrics_middleware",
    "observe_connections",
    "observe_live_pushes",
    "timed_broker",
    "timed_socket_events",
    "timed_storage",
    "timed_store",
]

T = TypeVar("T")
SEND_ROUTE = "/api/v1/messages"  # the HTTP fallback of the socket event "send"
AGGREGATES = (
    "accounts",
    "invitations",
    "links",
    "devices",
    "prekeys",
    "challenges",
    "tokens",
    "consent",
    "mailbox",
)


class _TimedStore:
    """Wraps one store: every ``async def`` method is timed under (store, method name)."""

    def __init__(self, inner: object, name: str, observer: Observer) -> None:
        self._inner = inner
        self._name = name
        self._observer = observer
        self._cache: dict[str, Any] = {}

    def __getattr__(self, attr: str) -> Any:
        cached = self._cache.get(attr)
        if cached is not None:
            return cached
        target = getattr(self._inner, attr)
        if not inspect.iscoroutinefunction(target):
            return target
        store, observer = self._name, self._observer

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            ok = True
            try:
                return await target(*args, **kwargs)
            except StorageUnavailable:
                ok = False
                raise
            finally:
                observer.storage_operation(store, attr, time.perf_counter() - start, ok)

        self._cache[attr] = timed
        return timed


class _TimedStorage:
    def __init__(self, inner: Storage, observer: Observer) -> None:
        self._inner = inner
        self._stores = {name: _TimedStore(getattr(inner, name), name, observer) for name in AGGREGATES}
        self._ping = _TimedStore(inner, "storage", observer)

    def __getattr__(self, attr: str) -> Any:
        store = self._stores.get(attr)
        if store is not None:
            return store
        if attr in ("ping", "put_heartbeat"):
            return getattr(self._ping, attr)
        return getattr(self._inner, attr)


def timed_store(store: T, name: str, observer: Observer) -> T:
    """One store (any object with ``async def`` methods), timed under ``store=name``."""
    return cast(T, _TimedStore(store, name, observer))


def timed_storage(storage: Storage, observer: Observer) -> Storage:
    """The same storage, with every store operation timed."""
    return cast(Storage, _TimedStorage(storage, observer))


class _TimedBroker:
    def __init__(self, inner: Broker, observer: Observer) -> None:
        self._inner = inner
        self._observer = observer
        self._cache: dict[str, Any] = {}

    def __getattr__(self, attr: str) -> Any:
        cached = self._cache.get(attr)
        if cached is not None:
            return cached
        target = getattr(self._inner, attr)
        if not inspect.iscoroutinefunction(target) or attr == "close":
            return target
        observer = self._observer

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            ok = True
            try:
                return await target(*args, **kwargs)
            except Exception:
                ok = False
                raise
            finally:
                observer.broker_operation(attr, time.perf_counter() - start, ok)

        self._cache[attr] = timed
        return timed


def timed_broker(broker: Broker, observer: Observer) -> Broker:
    """The same broker, with every operation timed."""
    return cast(Broker, _TimedBroker(broker, observer))


def _route_template(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is None or isinstance(request.match_info.http_exception, web.HTTPException):
        return "unmatched"
    canonical = resource.canonical
    # The static web client is one "route" for metrics: file names are not interesting and unbounded.
    if not canonical.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/socket.io")):
        return "/static"
    return canonical


def http_metrics_middleware(observer: Observer) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Installed inside the error middleware: it sees the exception, hence the stable error code."""

    @web.middleware
    async def metrics(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except Exception as exc:
            error = to_app_error(exc)
            status = error.status
            if request.method == "POST" and _route_template(request) == SEND_ROUTE:
                observer.send_rejected(error.code.value)
            raise
        finally:
            elapsed = time.perf_counter() - start
            observer.http_request(_route_template(request), request.method, status, elapsed)

    return metrics


def _timed_handler(event: SocketEvent, observer: Observer) -> SocketEvent:
    inner = event.handler
    name = event.name

    async def handler(principal: Principal, payload: Any) -> Any:
        start = time.perf_counter()
        outcome = "ok"
        try:
            return await inner(principal, payload)
        except Exception as exc:
            outcome = to_app_error(exc).code.value
            if name == "send":
                observer.send_rejected(outcome)
            raise
        finally:
            observer.socket_event(name, outcome, time.perf_counter() - start)

    return dataclasses.replace(event, handler=handler)


def timed_socket_events(events: dict[str, SocketEvent], observer: Observer) -> None:
    """Wrap every registered socket event handler in place (call once, after all features registered)."""
    for name, event in list(events.items()):
        events[name] = _timed_handler(event, observer)


def _local_devices(sio: socketio.AsyncServer, namespace: str, room: str) -> int:
    return 1 if any(True for _ in sio.manager.get_participants(namespace, room)) else 0


def observe_live_pushes(sio: socketio.AsyncServer, observer: Observer, clock: Clock) -> None:
    """Count ``inbox`` pushes where they reach a connected device: on the node holding the connection.

    With the in-process manager that is the emitting node; with a pub/sub manager (Redis) every node handles
    every emit in ``_handle_emit`` and only the one with the device in its room counts it. Envelopes pushed to
    an offline device are not counted here: they count when the device drains its mailbox (``sync``).
    """
    manager: Any = sio.manager

    def count(event: object, data: object, namespace: object, room: object) -> None:
        if event != "inbox" or not isinstance(room, str) or not room.startswith("device:"):
            return
        if isinstance(data, list | tuple) and len(data) == 1:
            data = data[0]
        envelopes = data.get("envelopes") if isinstance(data, dict) else None
        if not isinstance(envelopes, list) or not _local_devices(sio, str(namespace or "/"), room):
            return
        items = [
            (e["pos"], e["sent_at"])
            for e in envelopes
            if isinstance(e, dict) and isinstance(e.get("pos"), int) and isinstance(e.get("sent_at"), int)
        ]
        observer.envelopes_handed_out(DeliveryPath.LIVE, room.removeprefix("device:"), items, clock())

    if hasattr(manager, "_handle_emit"):  # socketio.AsyncPubSubManager and its Redis subclass
        handle_emit = manager._handle_emit

        async def observed_handle_emit(message: dict[str, Any]) -> None:
            count(message.get("event"), message.get("data"), message.get("namespace"), message.get("room"))
            await handle_emit(message)

        manager._handle_emit = observed_handle_emit
    else:
        emit = manager.emit

        async def observed_emit(
            event: str, data: Any, namespace: str, room: Any = None, **kwargs: Any
        ) -> Any:
            count(event, data, namespace, kwargs.get("to") or room)
            return await emit(event, data, namespace, room=room, **kwargs)

        manager.emit = observed_emit


def observe_connections(sio: socketio.AsyncServer, observer: Observer, namespace: str = "/") -> None:
    """Wrap the registered connect/disconnect handlers: connected-device gauge and refusals by code."""
    handlers = sio.handlers.get(namespace, {})
    connect, disconnect = handlers.get("connect"), handlers.get("disconnect")
    if connect is None or disconnect is None:
        raise RuntimeError("register the socket connect/disconnect handlers before observing them")
    counted: set[str] = set()  # connection ids (per socket, not per person) that incremented the gauge

    async def observed_connect(sid: str, *args: Any) -> Any:
        try:
            result = await connect(sid, *args)
        except socketio.exceptions.ConnectionRefusedError as exc:
            data = exc.error_args.get("data") if isinstance(exc.error_args, dict) else None
            code = data.get("code") if isinstance(data, dict) else None
            observer.socket_connect_refused(code if isinstance(code, str) else "other")
            raise
        if result is not False:
            counted.add(sid)
            observer.device_connected()
        return result

    async def observed_disconnect(sid: str, *args: Any) -> Any:
        try:
            return await disconnect(sid, *args)
        finally:
            if sid in counted:
                counted.discard(sid)
                observer.device_disconnected()

    handlers["connect"] = observed_connect
    handlers["disconnect"] = observed_disconnect
