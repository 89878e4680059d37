"""A bare python-socketio relay: the baseline the Confidant relay is measured against.

Same transport stack as `confidant serve` (aiohttp + python-socketio, websocket transport) and the same
event shapes as docs/API.md, but nothing else: no authentication, no storage, no validation.
A connection joins the room named by ``auth.device``; ``send`` forwards each envelope to the room of its
``to_device`` as an ``inbox`` push and acks; ``ack`` and ``sync`` answer at once.

    python bench/_baseline.py --host 127.0.0.1 --port 9000
    python bench/_baseline.py --port 9001 --redis-url redis://127.0.0.1:6379/0   # one node of several

With ``--redis-url`` the emits go through ``socketio.AsyncRedisManager``: the bare multi-node relay that
``bench/relay.py --nodes N --redis`` compares Confidant's cross-node path with (bench/_cluster.py).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import socketio
from aiohttp import web


def build_app(redis_url: str | None = None) -> web.Application:
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
    sio = socketio.AsyncServer(
        async_mode="aiohttp", cors_allowed_origins=[], transports=["websocket"], client_manager=manager
    )
    app = web.Application()
    sio.attach(app)
    positions: dict[str, int] = {}

    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None) -> bool:
        if not auth or "device" not in auth:
            return False
        await sio.enter_room(sid, str(auth["device"]))
        await sio.save_session(sid, {"device": auth["device"], "account": auth.get("account", "")})
        return True

    async def send(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        session = await sio.get_session(sid)
        now = int(time.time() * 1000)
        for env in data["envelopes"]:
            to = env["to_device"]
            pos = positions.get(to, 0) + 1
            positions[to] = pos
            item = {
                "pos": pos,
                "id": data["id"],
                "from_account": session["account"],
                "from_device": session["device"],
                "type": env["type"],
                "ciphertext": env["ciphertext"],
                "sent_at": now,
            }
            await sio.emit("inbox", {"envelopes": [item]}, room=to)
        return {"ok": True, "result": {"id": data["id"], "accepted_at": now, "duplicate": False}}

    async def ack(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "result": {"deleted": 0}}

    async def sync(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "result": {"envelopes": [], "more": False}}

    for name, handler in (("connect", connect), ("send", send), ("ack", ack), ("sync", sync)):
        sio.on(name, handler)

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/readyz", ready)
    app.router.add_get("/healthz", ready)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", help="share emits with other nodes through Redis (AsyncRedisManager)")
    args = parser.parse_args(argv)
    web.run_app(build_app(args.redis_url), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
