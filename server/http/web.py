"""The browser client's static files at ``/`` (if a built web root exists), under the global CSP."""

from __future__ import annotations

from aiohttp import web

from server.context import AppContext, Route

__all__ = ["register"]


def register(ctx: AppContext) -> None:
    root = ctx.settings.web_root
    if root is None or not (root / "index.html").is_file():
        return
    index = root / "index.html"

    async def serve_index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(index)

    async def serve_file(request: web.Request) -> web.StreamResponse:
        relative = request.match_info["path"]
        target = (root / relative).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(target)

    ctx.add_route(Route("GET", "/", serve_index, "Web client", "web", auth=False, documented=False))
    ctx.add_route(
        Route(
            "GET",
            "/{path:(?!api/|socket\\.io/).+}",
            serve_file,
            "Web client files",
            "web",
            auth=False,
            documented=False,
        )
    )
