"""HTTP views of video sessions: schedule, list, reschedule, cancel, attendance, TURN credentials.

Registered by ``server.realtime_sessions`` (which owns the one SessionService instance).
"""

from __future__ import annotations

from aiohttp import web

from server.context import AppContext, Route
from server.http._base import API, bearer_principal, read_body, reply
from signaling import wire as w
from signaling.sessions import SessionService

__all__ = ["register_routes"]

_SID = "{session_id:[0-9a-f]{32}}"


def register_routes(ctx: AppContext, service: SessionService) -> None:
    auth = ctx.services.auth

    async def create(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        body = await read_body(request, w.CreateSessionIn)
        return reply(await service.create(caller, body), 201)

    async def list_sessions(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        return reply(await service.list(caller))

    async def get(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        return reply(await service.get(caller, request.match_info["session_id"]))

    async def reschedule(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        body = await read_body(request, w.RescheduleIn)
        return reply(await service.reschedule(caller, request.match_info["session_id"], body))

    async def cancel(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        return reply(await service.cancel(caller, request.match_info["session_id"]))

    async def attendance(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        return reply(await service.attendance(caller, request.match_info["session_id"]))

    async def turn(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        return reply(await service.turn_credentials(caller, request.match_info["session_id"]))

    tag = "sessions"
    base = f"{API}/sessions"
    ctx.add_route(
        Route(
            "POST",
            base,
            create,
            "Therapist: schedule a video session",
            tag,
            w.CreateSessionIn,
            w.SessionOut,
            status=201,
        )
    )
    ctx.add_route(
        Route("GET", base, list_sessions, "Sessions you host or are invited to", tag, response=w.SessionsOut)
    )
    ctx.add_route(Route("GET", f"{base}/{_SID}", get, "One session", tag, response=w.SessionOut))
    ctx.add_route(
        Route(
            "PATCH",
            f"{base}/{_SID}",
            reschedule,
            "Therapist: reschedule (before it opens)",
            tag,
            w.RescheduleIn,
            w.SessionOut,
        )
    )
    ctx.add_route(
        Route(
            "DELETE",
            f"{base}/{_SID}",
            cancel,
            "Therapist: cancel (before it starts)",
            tag,
            response=w.SessionOut,
        )
    )
    ctx.add_route(
        Route(
            "GET",
            f"{base}/{_SID}/attendance",
            attendance,
            "Therapist: join/leave times",
            tag,
            response=w.AttendanceOut,
        )
    )
    ctx.add_route(
        Route(
            "POST",
            f"{base}/{_SID}/turn",
            turn,
            "Admitted participant: fresh TURN credentials",
            tag,
            response=w.TurnOut,
        )
    )
