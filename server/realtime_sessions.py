"""Video sessions on the wire: registers the SessionService's socket.io events and HTTP routes.

Socket events (client -> server, acked ``{ok, result}``): ``call.join``, ``call.admit``, ``call.remove``,
``call.signal``, ``call.media``, ``call.leave``, ``call.end``. Pushes (server -> client): ``call.waiting``,
``call.admitted``, ``call.removed``, ``call.signal``, ``call.state``, ``call.ended`` (docs/API.md).
Each handler: decode the payload, call ONE service method, return its result; a ``SessionError`` becomes
the server's error envelope in ``server.errors.to_app_error``, like every other refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from server import limits
from server.context import AppContext, SocketEvent
from server.errors import RateLimited
from server.http import sessions as http_sessions
from server.services.values import Principal
from server.wire.decode import from_data
from signaling import wire as w

__all__ = ["register"]


def register(ctx: AppContext) -> None:
    service = ctx.services.sessions
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
            return await run(principal, from_data(data, payload))

        ctx.add_socket_event(SocketEvent(name, handler, payload, result, summary))

    async def signal(p: Principal, body: w.SignalIn) -> None:
        # Trickled ICE candidates come in bursts of tens; far more than this per device is abuse.
        retry_after = await broker.hit(f"call.signal:{p.device_id}", *limits.RATE_CALL_SIGNAL_PER_DEVICE)
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
        await service.disconnected(p, connected)

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
