"""Video sessions on the wire: builds the SessionService and registers its socket.io events and HTTP routes.

Socket events (client -> server, acked ``{ok, result}``): ``call.join``, ``call.admit``, ``call.remove``,
``call.signal``, ``call.media``, ``call.leave``, ``call.end``. Pushes (server -> client): ``call.waiting``,
``call.admitted``, ``call.removed``, ``call.signal``, ``call.state``, ``call.ended`` (docs/API.md).
Each handler: decode the payload, call ONE service method, return its result; ``SessionError``s become
the server's ``AppError`` here (the ack mapping does the rest).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from server.context import AppContext, SocketEvent
from server.errors import AppError, ErrorCode, RateLimited
from server.http import sessions as http_sessions
from server.instrument import timed_store
from server.operations import OpsSessionEvents
from server.realtime import SocketNotifier
from server.services.values import Principal
from server.wire.decode import from_data
from signaling import wire as w
from signaling.errors import SessionError
from signaling.sessions import SessionService, TurnSettings
from storage.appointments import AppointmentStore
from storage.protocols import Storage

__all__ = ["app_error", "build_session_service", "register"]

T = TypeVar("T")
SIGNAL_RATE = (600, 60.0)  # signals per device per minute: a call with trickle ICE needs a few dozen


def app_error(exc: SessionError) -> AppError:
    return AppError(exc.message, exc.details, code=ErrorCode(exc.code))


async def mapped(call: Awaitable[T]) -> T:
    try:
        return await call
    except SessionError as exc:
        raise app_error(exc) from None


def appointment_store(storage: Storage) -> AppointmentStore:
    """The appointment store of the configured backend (SQLite or MongoDB).

    Looked up by the backend's engine, so that wrappers (timing, metrics) around the storage still work.
    """
    from storage.mongodb._engine import Engine as MongoEngine
    from storage.mongodb.appointments import MongoAppointmentStore
    from storage.sqlite._engine import Engine
    from storage.sqlite.appointments import SqliteAppointmentStore

    engine = getattr(storage, "engine", None)
    if isinstance(engine, Engine):
        return SqliteAppointmentStore(engine)
    if isinstance(engine, MongoEngine):
        return MongoAppointmentStore(engine)
    raise RuntimeError(f"no appointment store for {type(storage).__name__}")


def build_session_service(ctx: AppContext) -> SessionService:
    links = ctx.services.links

    async def is_linked(therapist_id: str, client_id: str) -> bool:
        return await ctx.storage.links.get_link(therapist_id, client_id) is not None

    turn = TurnSettings(ctx.settings.turn_urls, ctx.settings.turn_secret)
    return SessionService(
        timed_store(appointment_store(ctx.storage), "appointments", ctx.ops.metrics),
        ctx.broker,
        SocketNotifier(ctx.sio),
        ctx.clock,
        is_linked=is_linked,
        require_consent=links.require_consent,
        turn=turn,
        events=OpsSessionEvents(ctx.ops),
    )


def register(ctx: AppContext) -> None:
    service = build_session_service(ctx)
    http_sessions.register_routes(ctx, service)
    broker = ctx.broker

    def event(
        name: str,
        payload: type[msgspec.Struct],
        result: type[msgspec.Struct] | None,
        summary: str,
        run: Callable[[Principal, Any], Awaitable[msgspec.Struct | None]],
    ) -> None:
        async def handler(principal: Principal, data: Any) -> msgspec.Struct | None:
            return await mapped(run(principal, from_data(data, payload)))

        ctx.add_socket_event(SocketEvent(name, handler, payload, result, summary))

    async def signal(p: Principal, body: w.SignalIn) -> None:
        # Trickled ICE candidates come in bursts of tens; far more than this per device is abuse.
        retry_after = await broker.hit(f"call.signal:{p.device_id}", *SIGNAL_RATE)
        if retry_after is not None:
            raise RateLimited(retry_after)
        await service.signal(p, body)

    async def connected(device_id: str) -> bool:
        if ctx.connections.count(device_id) > 0:
            return True
        return await broker.get_presence(device_id) is not None  # a socket on another node

    async def join(p: Principal, body: w.JoinIn) -> w.CallJoinOut:
        joined = await service.join(p, body.session_id, body.join)
        if not await connected(p.device_id):
            # The socket closed while the join was running, and the disconnect hook may have looked before
            # the join landed: do now what it would have done.
            await service.disconnected(p, connected)
        return joined

    async def leave_on_disconnect(p: Principal) -> None:
        await mapped(service.disconnected(p, connected))

    ctx.on_disconnect(leave_on_disconnect)

    event(
        "call.join",
        w.JoinIn,
        w.CallJoinOut,
        "Enter a session's waiting room (therapist: open it)",
        join,
    )
    event(
        "call.admit",
        w.ParticipantIn,
        w.CallStateEvent,
        "Therapist: admit a waiting client",
        lambda p, b: service.admit(p, b.session_id, b.account_id),
    )
    event(
        "call.remove",
        w.ParticipantIn,
        w.CallStateEvent,
        "Therapist: remove a participant",
        lambda p, b: service.remove(p, b.session_id, b.account_id),
    )
    event("call.signal", w.SignalIn, None, "Relay a boxed signal to an admitted participant's device", signal)
    event(
        "call.media",
        w.MediaIn,
        w.CallStateEvent,
        "Report your media connected / disconnected",
        lambda p, b: service.media(p, b.session_id, b.connected),
    )
    event(
        "call.leave",
        w.SessionIdIn,
        w.CallStateEvent,
        "Leave the session (you may rejoin)",
        lambda p, b: service.leave(p, b.session_id),
    )
    event(
        "call.end",
        w.SessionIdIn,
        w.CallStateEvent,
        "Therapist: end the session for everyone",
        lambda p, b: service.end(p, b.session_id),
    )
