"""The browser client's static files at ``/`` (if a built web root exists), under the global CSP.

The build (scripts/build-web.sh) names every file under ``assets/`` by its content hash and writes brotli and
gzip copies next to each text or wasm file (``x.js.br``, ``x.js.gz``). Here we only choose: the best copy the
request accepts (RFC 9110 Accept-Encoding with q-values; ``Vary: Accept-Encoding`` on every response that has
copies), and the cache policy:

- ``assets/*``: hashed names never change content, so ``public, max-age=31536000, immutable``;
- everything else (``index.html``, the service worker, the release manifest, the web manifest): ``no-cache``,
  so a browser revalidates (cheaply, by ETag) and a new release is seen on the next load.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

from server.context import AppContext, Route

__all__ = ["IMMUTABLE", "REVALIDATE", "negotiate_encoding", "register"]

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Preference among the copies the build writes, best first (brotli is ~12 % smaller than gzip on our bundle).
_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".wasm": "application/wasm",  # WebAssembly.instantiateStreaming refuses any other type
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def _accepted(header: str) -> dict[str, float]:
    """Coding -> q from Accept-Encoding; malformed parts are ignored (the identity copy always works)."""
    accepted: dict[str, float] = {}
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            accepted[name.strip()] = q
    return accepted


def negotiate_encoding(header: str, available: set[str]) -> str | None:
    """The best of ``available`` codings the client accepts (q > 0), or None for the identity copy."""
    accepted = _accepted(header)
    wildcard = accepted.get("*", 0.0)
    best: tuple[float, int, str] | None = None
    for rank, (coding, _) in enumerate(_ENCODINGS):
        if coding not in available:
            continue
        q = accepted.get(coding, wildcard)
        if q > 0 and (best is None or (q, -rank) > (best[0], best[1])):
            best = (q, -rank, coding)
    return best[2] if best else None


def _serve(request: web.Request, target: Path, relative: str) -> web.FileResponse:
    copies = {coding: target.with_name(target.name + ext) for coding, ext in _ENCODINGS}
    available = {coding for coding, path in copies.items() if path.is_file()}
    coding = negotiate_encoding(request.headers.get("Accept-Encoding", ""), available)
    response = web.FileResponse(copies[coding] if coding else target)
    response.content_type = (
        _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    )
    if coding:
        response.headers["Content-Encoding"] = coding
    if available:
        response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = IMMUTABLE if relative.startswith("assets/") else REVALIDATE
    return response


def register(ctx: AppContext) -> None:
    root = ctx.settings.web_root
    if root is None or not (root / "index.html").is_file():
        return
    resolved_root = root.resolve()

    async def serve_index(request: web.Request) -> web.FileResponse:
        return _serve(request, root / "index.html", "index.html")

    async def serve_file(request: web.Request) -> web.StreamResponse:
        relative = request.match_info["path"]
        target = (root / relative).resolve()
        # The .br/.gz copies are served only through negotiation, never by their own name.
        if (
            not target.is_relative_to(resolved_root)
            or not target.is_file()
            or target.suffix in (".br", ".gz")
        ):
            raise web.HTTPNotFound()
        return _serve(request, target, target.relative_to(resolved_root).as_posix())

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
