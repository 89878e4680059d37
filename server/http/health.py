"""Liveness and readiness."""

from __future__ import annotations

import logging

from aiohttp import web

from server.context import AppContext, Route
from server.http._base import reply
from server.wire import responses as rs

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(ctx: AppContext) -> None:
    async def healthz(request: web.Request) -> web.Response:
        return reply(rs.HealthOut("ok"))

    async def readyz(request: web.Request) -> web.Response:
        # Checked concurrently, each bounded (server.readiness): storage, broker, and TURN when configured.
        # Latencies and failure classes go to /metrics, the admin API and the log, not to load balancers.
        statuses = await ctx.ops.readiness.check()
        checks = {name: "ok" if s.ok else "unavailable" for name, s in statuses.items()}
        # Storage is required: nothing can be acknowledged without it. The broker is not: without Redis,
        # live push and cluster-wide limits degrade but every message is still stored and drained on sync.
        # Neither is TURN: calls fall back to direct connections where the network allows them.
        if checks["storage"] != "ok":
            return reply(rs.ReadyOut("unavailable", checks), 503)
        degraded = any(v != "ok" for v in checks.values())
        return reply(rs.ReadyOut("degraded" if degraded else "ok", checks), 200)

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
