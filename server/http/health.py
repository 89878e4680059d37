"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from server.context import AppContext, Route
from server.http._base import reply
from server.wire import responses as rs

__all__ = ["register"]

log = logging.getLogger(__name__)
PING_TIMEOUT_SECONDS = 2.0  # a dependency slower than this is not ready for traffic


def register(ctx: AppContext) -> None:
    async def healthz(request: web.Request) -> web.Response:
        return reply(rs.HealthOut("ok"))

    async def readyz(request: web.Request) -> web.Response:
        checks: dict[str, str] = {}
        for name, ping in (("storage", ctx.storage.ping), ("broker", ctx.broker.ping)):
            try:
                await asyncio.wait_for(ping(), PING_TIMEOUT_SECONDS)
                checks[name] = "ok"
            except Exception as exc:  # any failure means "not ready"; the reason goes to the log only
                log.warning("readiness check failed", extra={"dependency": name, "error": type(exc).__name__})
                checks[name] = "unavailable"
        # Storage is required: nothing can be acknowledged without it. The broker is not: without Redis,
        # live push and cluster-wide limits degrade but every message is still stored and drained on sync.
        if checks["storage"] != "ok":
            return reply(rs.ReadyOut("unavailable", checks), 503)
        return reply(rs.ReadyOut("ok" if checks["broker"] == "ok" else "degraded", checks), 200)

    ctx.add_route(
        Route("GET", "/healthz", healthz, "The process is alive", "health", response=rs.HealthOut, auth=False)
    )
    ctx.add_route(
        Route(
            "GET",
            "/readyz",
            readyz,
            "Storage reachable; broker ok or degraded",
            "health",
            response=rs.ReadyOut,
            auth=False,
        )
    )
