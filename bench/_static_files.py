"""Baseline for bench/attachments.py: a bare aiohttp file server, as little as an upload/download can be.

    POST /files          streams the body to a file (temporary name, fsync, rename: the same durability as
                         Confidant's blob store) and answers {"id": ...}
    GET  /files/{id}     web.FileResponse (sendfile where the OS has it)
    GET  /readyz         200

No authentication, no database, no quota, no Range bookkeeping: the difference to Confidant is the price
of those.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
from pathlib import Path

from aiohttp import web


def build_app(root: Path) -> web.Application:
    async def upload(request: web.Request) -> web.Response:
        file_id = secrets.token_hex(16)
        part, final = root / f"{file_id}.part", root / file_id
        with part.open("wb") as out:
            while chunk := await request.content.read(256 * 1024):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, final)
        return web.json_response({"id": file_id}, status=201)

    async def download(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(root / request.match_info["file_id"])

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/files", upload)
    app.router.add_get("/files/{file_id:[0-9a-f]{32}}", download)
    app.router.add_get("/readyz", ready)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="static-files-"))
    root.mkdir(parents=True, exist_ok=True)
    web.run_app(build_app(root), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
