"""socket.io transport: connect authentication, event dispatch, and the Notifier.

The second of the two wire mappings of errors: acks carry ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": {...}}``; a refused connect raises ``ConnectionRefusedError(error_object)``.
Devices join the rooms ``device:<device_id>`` and ``account:<account_id>``; live pushes are emits to those
rooms through the client manager (``socketio.AsyncManager`` here, ``AsyncRedisManager`` across nodes).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
import socketio

from server import limits
from server.context import AppContext, SocketEvent
from server.errors import AppError, BadRequest, ErrorCode, Unauthenticated, to_app_error
from server.logging import new_request_id, request_id_var
from server.services.mailbox import item_out
from server.services.values import Principal
from server.wire import requests as rq
from server.wire import responses as rs
from server.wire.decode import from_data, send_request
from storage.errors import StorageUnavailable
from storage.records import Role

__all__ = ["SocketNotifier", "bind_events", "register"]

log = logging.getLogger(__name__)

_SESSION_KEY = "principal"


def device_room(device_id: str) -> str:
    return f"device:{device_id}"


def account_room(account_id: str) -> str:
    return f"account:{account_id}"


def token_room(token_hash: bytes) -> str:
    # The SHA-256 of the token, as stored in the database: naming the room never reveals the token.
    return f"token:{token_hash.hex()}"


class SocketNotifier:
    """Notifier over socket.io rooms; works unchanged with a cross-node client manager."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio

    async def to_device(self, device_id: str, event: str, payload: msgspec.Struct) -> None:
        await self._sio.emit(event, msgspec.to_builtins(payload), room=device_room(device_id))

    async def to_account(self, account_id: str, event: str, payload: msgspec.Struct) -> None:
        await self._sio.emit(event, msgspec.to_builtins(payload), room=account_room(account_id))

    async def disconnect_device(self, device_id: str) -> None:
        await self._disconnect_room(device_room(device_id))

    async def disconnect_token(self, token_hash: bytes) -> None:
        await self._disconnect_room(token_room(token_hash))

    async def _disconnect_room(self, room: str) -> None:
        # Across nodes, the Redis client manager closes the room's connections on every node
        # (storage.redis_broker); the in-process manager has only this node's.
        disconnect_room = getattr(self._sio.manager, "disconnect_room", None)
        if disconnect_room is not None:
            await disconnect_room(room, "/")
            return
        for sid, _ in list(self._sio.manager.get_participants("/", room)):
            await self._sio.disconnect(sid)


def _wire_error(exc: BaseException) -> dict[str, Any]:
    error = to_app_error(exc)
    if error.code is ErrorCode.INTERNAL:
        log.error("unhandled socket error", exc_info=exc)
    return error.to_wire()


async def _run_connect_hooks(ctx: AppContext, principal: Principal) -> None:
    for hook in ctx.connect_hooks:
        try:
            await hook(principal)
        except Exception:
            log.exception("connect hook failed")


async def _run_disconnect_hooks(ctx: AppContext, principal: Principal) -> None:
    request_id_var.set(new_request_id())
    for hook in ctx.disconnect_hooks:
        try:
            await hook(principal)
        except StorageUnavailable as exc:  # storage or broker down (or shutting down): already logged there
            log.warning("disconnect hook failed", extra={"error": type(exc).__name__})
        except Exception:
            log.exception("disconnect hook failed")


def _dispatcher(ctx: AppContext, event: SocketEvent) -> Any:
    sio = ctx.sio
    services = ctx.services

    async def handle(sid: str, *args: Any) -> dict[str, Any]:
        request_id_var.set(new_request_id())
        try:
            if len(args) > 1:
                raise BadRequest("Send one payload object per event.")
            data = args[0] if args else None
            session = await sio.get_session(sid)
            principal = session.get(_SESSION_KEY)
            if not isinstance(principal, Principal):
                raise Unauthenticated("This connection is not authenticated.")
            services.auth.still_valid(principal)
            result = await event.handler(principal, data)
        except AppError as exc:
            if exc.code is ErrorCode.UNAUTHENTICATED:
                # After this ack is queued: the client learns why before the connection closes.
                sio.start_background_task(sio.disconnect, sid)
            return {"ok": False, "error": exc.to_wire()}
        except Exception as exc:
            return {"ok": False, "error": _wire_error(exc)}
        return {"ok": True, "result": None if result is None else msgspec.to_builtins(result)}

    return handle


def register(ctx: AppContext) -> None:
    sio = ctx.sio
    services = ctx.services
    connections = ctx.connections
    expiry_timers: dict[str, asyncio.TimerHandle] = {}

    def close_when_token_expires(sid: str, principal: Principal) -> None:
        # Closed at the token's expiry, not at the next event: a silent socket must not keep receiving pushes.
        delay = max((principal.expires_at - ctx.clock()) / 1000, 0.0)
        expiry_timers[sid] = asyncio.get_running_loop().call_later(
            delay, lambda: sio.start_background_task(sio.disconnect, sid)
        )

    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        request_id_var.set(new_request_id())
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            principal = await services.auth.authenticate(token if isinstance(token, str) else None)
        except Exception as exc:
            # The client's connect_error carries {"message": ..., "data": <error object>}.
            error = _wire_error(exc)
            raise socketio.exceptions.ConnectionRefusedError(error["message"], error) from None
        await sio.save_session(sid, {_SESSION_KEY: principal})
        await sio.enter_room(sid, device_room(principal.device_id))
        await sio.enter_room(sid, account_room(principal.account_id))
        await sio.enter_room(sid, token_room(principal.token_hash))
        connections.opened(principal.device_id)
        close_when_token_expires(sid, principal)
        await ctx.broker.set_presence(principal.device_id, ctx.node_id, limits.PRESENCE_TTL_SECONDS)
        log.debug("device connected", extra={"device_id": principal.device_id})
        # After the connect completes, so that the client is ready to receive what hooks emit.
        sio.start_background_task(_run_connect_hooks, ctx, principal)

    async def disconnect(sid: str, reason: Any = None) -> None:
        timer = expiry_timers.pop(sid, None)
        if timer is not None:
            timer.cancel()
        session = await sio.get_session(sid)
        principal = session.get(_SESSION_KEY)
        if isinstance(principal, Principal) and connections.closed(principal.device_id):
            await ctx.broker.clear_presence(principal.device_id, ctx.node_id)
            sio.start_background_task(_run_disconnect_hooks, ctx, principal)

    async def refresh_presence() -> None:
        # Presence expires unless refreshed, so a crashed node's devices do not stay "online" for ever.
        while True:
            await asyncio.sleep(limits.PRESENCE_TTL_SECONDS / 3)
            for device_id in connections.devices():
                await ctx.broker.set_presence(device_id, ctx.node_id, limits.PRESENCE_TTL_SECONDS)

    ctx.add_background("presence-refresh", refresh_presence)
    ctx.add_background("wake-ups", services.wakeups.run)

    sio.on("connect", handler=connect)
    sio.on("disconnect", handler=disconnect)

    async def on_send(principal: Principal, data: Any) -> rs.SendOut:
        body = from_data(data, rq.SendIn)
        outcome = await services.mailbox.send(principal, send_request(body, principal.device_id))
        return rs.SendOut(body.id, outcome.accepted_at, outcome.duplicate)

    async def on_send_batch(principal: Principal, data: Any) -> rs.SendBatchOut:
        batch = from_data(data, rq.SendBatchIn)
        bodies: list[rq.SendIn] = []
        reqs = []
        refused: AppError | None = None
        for raw in batch.sends:
            try:  # each send on its own: a bad one is refused alone, and ends the batch there
                body = from_data(raw, rq.SendIn)
                reqs.append(send_request(body, principal.device_id))
                bodies.append(body)
            except AppError as exc:  # answered like a single send's refusal (fields within the send)
                refused = exc
                break
        answers: list[Any] = list(await services.mailbox.send_batch(principal, reqs)) if reqs else []
        if refused is not None and len(answers) == len(reqs):  # every send before it was admitted
            answers.append(refused)
        results = []
        for i, answer in enumerate(answers):
            if isinstance(answer, BaseException):
                results.append({"ok": False, "error": _wire_error(answer)})
            else:
                out = rs.SendOut(bodies[i].id, answer.accepted_at, answer.duplicate)
                results.append({"ok": True, "result": msgspec.to_builtins(out)})
        return rs.SendBatchOut(results)

    async def on_sync(principal: Principal, data: Any) -> rs.SyncOut:
        query = from_data(data, rq.SyncIn)
        items, more = await services.mailbox.sync(principal, query.after, query.limit, query.ack_up_to)
        return rs.SyncOut([item_out(i) for i in items], more)

    async def on_ack(principal: Principal, data: Any) -> rs.AckOut:
        body = from_data(data, rq.AckIn)
        return rs.AckOut(await services.mailbox.ack(principal, body.up_to))

    ctx.add_socket_event(SocketEvent("send", on_send, rq.SendIn, rs.SendOut, "Send one message"))
    ctx.add_socket_event(
        SocketEvent("send_batch", on_send_batch, rq.SendBatchIn, rs.SendBatchOut, "Send several messages")
    )
    ctx.add_socket_event(SocketEvent("sync", on_sync, rq.SyncIn, rs.SyncOut, "Envelopes after a position"))
    ctx.add_socket_event(SocketEvent("ack", on_ack, rq.AckIn, rs.AckOut, "Delete envelopes up to a position"))

    async def prekeys_on_connect(principal: Principal) -> None:
        if principal.role is not Role.ADMIN:
            await services.prekeys.notify_if_low(principal)

    ctx.on_connect(prekeys_on_connect)


def bind_events(ctx: AppContext) -> None:
    """Bind every registered socket event; the composition root calls this after all features registered."""
    for event in ctx.socket_events.values():
        ctx.sio.on(event.name, handler=_dispatcher(ctx, event))
