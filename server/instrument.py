"""Timing wrappers applied by the composition root, so that stores, the broker, HTTP views and socket
handlers report to the :class:`~server.observability.Observer` without containing a line about it.

* ``timed_storage`` / ``timed_broker``: one proxy (``_Timed``) that times every coroutine method of every
  store of the port (``storage.protocols.STORES``) and of the broker. Only ``StorageUnavailable`` (or any
  broker exception) counts as a failed operation: an application-level refusal such as ``InvitationUnusable``
  means the database answered.
* ``http_metrics_middleware``: route *template* (``/api/v1/devices/{device_id}``), method, status; refused
  sends by error code. Installed inside the error middleware, so it sees the exception and its code.
* ``timed_socket_events``: the outcome of a socket.io event is ``ok`` or the stable error code.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import socketio
from aiohttp import web

from server.context import SocketEvent
from server.errors import to_app_error
from server.observability import Observer
from server.services.values import Principal
from storage.broker import Broker
from storage.errors import StorageUnavailable
from storage.protocols import STORES, Storage

__all__ = [
    "http_metrics_middleware",
    "observe_connections",
    "timed_broker",
    "timed_socket_events",
    "timed_storage",
]

SEND_ROUTE = "/api/v1/messages"  # the HTTP fallback of the socket event "send"

Report = Callable[[str, float, bool], None]  # (method name, seconds, ok)


class _Timed:
    """Times every ``async def`` method of ``inner`` (except ``close``) and reports it to ``report``.

    The one timing proxy, for the stores and for the broker. An exception counts as a failed operation only if
    ``failed(exc)`` says so: for a store only ``StorageUnavailable`` does, since an application-level refusal
    such as ``InvitationUnusable`` means the database answered.
    """

    def __init__(self, inner: object, report: Report, failed: Callable[[Exception], bool]) -> None:
        self._inner = inner
        self._report = report
        self._failed = failed

    def __getattr__(self, attr: str) -> Any:
        # Only reached on the first access of a name: what it returns for a method is kept in the instance
        # dictionary, so every later access (several per send) is a plain attribute lookup.
        target = getattr(self._inner, attr)
        if not inspect.iscoroutinefunction(target) or attr == "close":
            if inspect.ismethod(target):
                setattr(self, attr, target)
            return target
        report, failed = self._report, self._failed

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            ok = True
            try:
                return await target(*args, **kwargs)
            except Exception as exc:
                ok = not failed(exc)
                raise
            finally:
                report(attr, time.perf_counter() - start, ok)

        setattr(self, attr, timed)
        return timed


def _unavailable(exc: Exception) -> bool:
    return isinstance(exc, StorageUnavailable)


def _store_report(store: str, observer: Observer) -> Report:
    return lambda method, seconds, ok: observer.storage_operation(store, method, seconds, ok)


class _TimedStorage:
    """Every store of the port timed under its own name; ``ping`` / ``put_heartbeat`` under ``storage``."""

    def __init__(self, inner: Storage, observer: Observer) -> None:
        self._inner = inner
        self._stores = {
            name: _Timed(getattr(inner, name), _store_report(name, observer), _unavailable) for name in STORES
        }
        self._lifecycle = _Timed(inner, _store_report("storage", observer), _unavailable)

    def __getattr__(self, attr: str) -> Any:
        store = self._stores.get(attr)
        if store is not None:
            setattr(self, attr, store)  # later accesses skip __getattr__
            return store
        return getattr(self._lifecycle, attr)


def timed_storage(storage: Storage, observer: Observer) -> Storage:
    """The same storage, with every store operation timed."""
    return cast(Storage, _TimedStorage(storage, observer))


def timed_broker(broker: Broker, observer: Observer) -> Broker:
    """The same broker, with every operation timed (any exception is a failed operation)."""
    return cast(Broker, _Timed(broker, observer.broker_operation, lambda exc: True))


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
    async def metrics(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
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
