"""HTTP fallback for the mailbox (the socket.io events are the primary path)."""

from __future__ import annotations

from aiohttp import web

from server.context import AppContext, Route
from server.errors import InvalidField
from server.http._base import API, bearer_principal, read_body, reply
from server.services.mailbox import item_out
from server.wire import requests as rq
from server.wire import responses as rs
from server.wire.decode import from_data, send_request

__all__ = ["register"]


def _int_query(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise InvalidField(f"Query parameter {name!r} must be a non-negative integer.", {"field": name})
    return int(raw)


def register(ctx: AppContext) -> None:
    s = ctx.services

    async def send(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        body = await read_body(request, rq.SendIn)
        outcome = await s.mailbox.send(caller, send_request(body, caller.device_id))
        return reply(rs.SendOut(body.id, outcome.accepted_at, outcome.duplicate))

    async def sync(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        unknown = set(request.query) - {"after", "limit"}
        if unknown:
            raise InvalidField(
                f"Unknown query parameter {sorted(unknown)[0]!r}.", {"field": sorted(unknown)[0]}
            )
        params = {k: v for k in ("after", "limit") if (v := _int_query(request, k)) is not None}
        query = from_data(params, rq.SyncIn)
        items, more = await s.mailbox.sync(caller, query.after, query.limit)
        return reply(rs.SyncOut([item_out(i) for i in items], more))

    async def ack(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        body = await read_body(request, rq.AckIn)
        return reply(rs.AckOut(await s.mailbox.ack(caller, body.up_to)))

    tag = "messages"
    ctx.add_route(
        Route(
            "POST",
            f"{API}/messages",
            send,
            "Send one message (one envelope per device)",
            tag,
            rq.SendIn,
            rs.SendOut,
        )
    )
    ctx.add_route(
        Route(
            "GET",
            f"{API}/messages",
            sync,
            "Envelopes after a position (query: after, limit)",
            tag,
            response=rs.SyncOut,
        )
    )
    ctx.add_route(
        Route(
            "POST",
            f"{API}/messages/ack",
            ack,
            "Delete your envelopes up to a position",
            tag,
            rq.AckIn,
            rs.AckOut,
        )
    )
