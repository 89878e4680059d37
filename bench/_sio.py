"""A minimal socket.io v5 / engine.io v4 websocket client for load generation.

The benchmarks drive thousands of envelopes per second from few processes; python-socketio's full client
costs about as much CPU per event as the server, which would make the load generator the bottleneck.
This client speaks only what the relay benchmarks need, over one aiohttp websocket:

    server -> "0{...}"                 engine.io OPEN (sid, pingInterval)
    client -> "40{auth}"               socket.io CONNECT to "/" with the auth payload
    server -> "40{...}" | "44{...}"    CONNECT ok | CONNECT_ERROR (data = the error object)
    client -> "42<id>[event, data]"    EVENT with an ack id
    server -> "43<id>[result]"         ACK
    server -> "42[event, data]"        EVENT pushed by the server
    server -> "2" / client -> "3"      engine.io ping / pong
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

EventHandler = Callable[[str, Any], None]


class SioError(Exception):
    """The connection was refused or closed."""


class RawSioClient:
    """One socket.io connection; ``emit`` returns a future for the ack, pushed events go to ``on_event``."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, on_event: EventHandler | None = None):
        self._session = session
        self._url = base_url.rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        self._on_event = on_event
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    async def connect(self, auth: dict[str, Any], timeout: float = 30.0) -> None:
        ws = await self._session.ws_connect(
            self._url, timeout=aiohttp.ClientWSTimeout(ws_close=timeout), autoping=False, max_msg_size=0
        )
        self._ws = ws
        opened = await asyncio.wait_for(ws.receive(), timeout)
        if opened.type != aiohttp.WSMsgType.TEXT or not str(opened.data).startswith("0"):
            raise SioError(f"unexpected engine.io open: {opened.data!r}")
        await ws.send_str("40" + json.dumps(auth, separators=(",", ":")))
        while True:
            msg = await asyncio.wait_for(ws.receive(), timeout)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise SioError(f"connection closed during connect: {msg.type!r}")
            data = str(msg.data)
            if data == "2":
                await ws.send_str("3")
                continue
            if data.startswith("40"):
                break
            if data.startswith("44"):
                raise SioError(f"connect refused: {data[2:]}")
            raise SioError(f"unexpected frame during connect: {data[:80]!r}")
        self._reader = asyncio.create_task(self._read())

    async def emit(self, event: str, data: Any) -> asyncio.Future[Any]:
        """Send an event; the returned future resolves to the server's ack payload."""
        assert self._ws is not None
        self._next_id += 1
        ack_id = self._next_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = fut
        frame = f"42{ack_id}" + json.dumps([event, data], separators=(",", ":"))
        await self._ws.send_str(frame)
        return fut

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        assert self._ws is not None
        ws = self._ws
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data = str(msg.data)
                kind = data[:2]
                if data == "2":
                    await ws.send_str("3")
                elif kind == "43":
                    body = data.index("[")
                    fut = self._acks.pop(int(data[2:body]))
                    if not fut.done():
                        result = json.loads(data[body:])
                        fut.set_result(result[0] if result else None)
                elif kind == "42":
                    body = data.index("[")
                    event, *args = json.loads(data[body:])
                    if self._on_event is not None:
                        self._on_event(event, args[0] if args else None)
                elif data.startswith("41") or data.startswith("1"):
                    break
        finally:
            for fut in self._acks.values():
                if not fut.done():
                    fut.set_exception(SioError("connection closed"))
            self._acks.clear()
            self.closed.set()
