"""``/metrics`` on its own listener (``metrics_host:metrics_port``, 127.0.0.1:9464 by default).

Live counts of envelopes, connections, sessions and refusals are traffic-analysis material for a small
practice, so they are never served on the public listener: no proxy rule, path encoding or header can
reach them there. Prometheus scrapes this port on the private network (docs/OPERATIONS.md).
"""

from __future__ import annotations

from aiohttp import web

from server.context import AppContext
from server.metrics import CONTENT_TYPE

__all__ = ["build_metrics_app"]


def build_metrics_app(ctx: AppContext) -> web.Application:
    """Only ``GET``/``HEAD /metrics``; anything else is a plain 404/405 from aiohttp."""
    metrics = ctx.ops.metrics

    async def render(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", render)
    return app
