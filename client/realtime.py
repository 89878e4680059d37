"""The socket.io connection of one device: authenticate, resume, receive pushes, reconnect with backoff.

A supervisor task keeps one connection alive. It reports itself connected as soon as the socket is up, then
drains the mailbox in the background with ``sync`` from the last acknowledged position, page by page, until
``more`` is false (docs/API.md "Realtime"): a backlog of any size never delays "connected". Each page is
handed to ``on_envelopes`` and awaited before the next one is handed over (the consumer writes it to disk
first); the next page is fetched meanwhile, so memory stays bounded at two pages. An ``inbox`` push is a
wake-up carrying only a stream position: it makes the device pull (``sync`` from its cursor), because pushes
relayed by other nodes can arrive out of order or be lost while Redis is away. Pulls are coalesced: pushes
arriving during a pull cause one more pull after it. While a node cannot relay wake-ups (its pub/sub is
unhealthy) it sends "pull now" wake-ups (position 0) every second instead; and the device pulls at least
every ``idle_poll`` seconds anyway, so delivery stays bounded even when a wake-up is lost.
A refused connect with ``unauthenticated`` (expired or revoked token) makes it log in again before the next
attempt. Envelopes may arrive twice (a push racing a sync page): the consumer de-duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import socketio

from client.errors import ApiError, TransportError

__all__ = ["Realtime"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
TokenSource = Callable[[bool], Awaitable[str]]  # refresh=True forces a new login
EnvelopeHandler = Callable[[list[JSON]], Awaitable[None]]
EventHandler = Callable[[str, JSON], Awaitable[None]]

SYNC_PAGE = 200
IDLE_POLL_S = 30.0  # a connected device pulls at least this often even without a wake-up
EXPECTED_FAILURES = (socketio.exceptions.ConnectionError, TransportError, ApiError, OSError)
# server_shutdown: the node is stopping (docs/API.md); the connection closes next and the supervisor
# reconnects with back-off as after any drop. Forwarded so an app can show "Reconnecting...".
PUSHED_EVENTS = (
    "prekeys_low",
    "devices_changed",
    "consent_changed",
    "server_shutdown",
    "link_ended",
    "vault_changed",
)


class Realtime:
    def __init__(
        self,
        url: str,
        token: TokenSource,
        cursor: Callable[[], int],
        on_envelopes: EnvelopeHandler,
        on_event: EventHandler | None = None,
        *,
        backoff_initial: float = 0.05,
        backoff_max: float = 5.0,
        call_timeout: float = 30.0,
        idle_poll: float = IDLE_POLL_S,
        fold_ack: Callable[[], int | None] | None = None,
    ) -> None:
        self.url = url
        # The position to acknowledge with the next pull (``sync``'s ``ack_up_to``), if any: the pull carries
        # the acknowledgement instead of an ``ack`` event of its own.
        self._fold_ack = fold_ack
        self._token = token
        self._cursor = cursor
        self._on_envelopes = on_envelopes
        self._on_event = on_event
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._call_timeout = call_timeout
        self._idle_poll = idle_poll
        self._sio: socketio.AsyncClient | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()
        self.connects = 0
        self._tasks: set[asyncio.Future[None]] = set()
        self._pull_pending = False
        self._pulling: asyncio.Future[None] | None = None
        self._pulled = 0  # highest position handed over on this connection
        self._closed: asyncio.Event | None = None
        self.last_error: ApiError | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._supervisor is None or self._supervisor.done():
            self._stopping.clear()
            self._supervisor = asyncio.create_task(self._supervise(), name="confidant-realtime")

    async def wait_connected(self, timeout: float = 30.0) -> None:
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError as exc:
            raise TransportError(f"not connected after {timeout}s (last error: {self.last_error})") from exc

    async def stop(self) -> None:
        self._stopping.set()
        sio = self._sio
        if sio is not None:
            with contextlib.suppress(Exception):
                await sio.disconnect()
            _release_websocket(sio)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._cancel_pulls()
        self.connected.clear()

    # -- calls ----------------------------------------------------------------------------------------------

    async def call(self, event: str, data: JSON, timeout: float | None = None) -> JSON:
        """Emit ``event`` and return the ack's ``result``; ``ApiError`` on ``ok: false``, ``TransportError``
        when the connection drops before the ack (python-socketio would wait out the timeout)."""
        sio, closed = self._sio, self._closed
        if sio is None or closed is None or not sio.connected:
            raise TransportError("not connected")
        call = asyncio.ensure_future(sio.call(event, data, timeout=timeout or self._call_timeout))
        dropped = asyncio.ensure_future(closed.wait())
        try:
            await asyncio.wait({call, dropped}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            call.cancel()  # the caller is gone (e.g. the device closes): nothing may outlive it
            raise
        finally:
            dropped.cancel()
        if not call.done():
            call.cancel()
            raise TransportError(f"{event}: connection lost")
        try:
            reply = call.result()
        except (socketio.exceptions.TimeoutError, socketio.exceptions.SocketIOError) as exc:
            raise TransportError(f"{event}: {exc.__class__.__name__}") from exc
        if not isinstance(reply, dict):
            raise ApiError("internal", f"unexpected ack for {event}")
        if not reply.get("ok"):
            raise ApiError.from_wire(reply)
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    # -- supervisor ----------------------------------------------------------------------------------------

    async def _supervise(self) -> None:
        delay = self._backoff_initial
        refresh = False
        while not self._stopping.is_set():
            sio, closed, refused = self._new_client()
            try:
                token = await self._token(refresh)
                refresh = False
                self._pull_pending, self._pulled = False, 0
                self._sio, self._closed = sio, closed
                await sio.connect(self.url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
            except asyncio.CancelledError:
                # stop() during a connect: engine.io may have opened a new HTTP session after stop()'s
                # disconnect closed the first one; close it too before the task ends.
                with contextlib.suppress(Exception):
                    await sio.disconnect()
                raise
            except Exception as exc:  # the supervisor must outlive anything one attempt raises
                if not isinstance(exc, EXPECTED_FAILURES):
                    log.warning("realtime connect attempt failed unexpectedly: %s", exc.__class__.__name__)
                err = _refusal(refused[-1]) if refused else None
                if isinstance(exc, ApiError):
                    err = exc
                self.last_error = err
                if err is not None and err.code == "unauthenticated":
                    refresh = True
                log.debug(
                    "realtime connect failed (%s), retrying in %.2fs",
                    err.code if err else exc.__class__.__name__,
                    delay,
                )
                with contextlib.suppress(Exception):
                    await sio.disconnect()
                self._sio = None
                await self._backoff(delay)
                delay = min(self._backoff_max, delay * 2)
                continue
            delay = self._backoff_initial
            self.connects += 1
            self.connected.set()
            self._pull_soon()  # the drain: in the background, page by page
            stop_wait = asyncio.ensure_future(self._stopping.wait())
            closed_wait = asyncio.ensure_future(closed.wait())
            while True:
                done, _ = await asyncio.wait(
                    {stop_wait, closed_wait}, timeout=self._idle_poll, return_when=asyncio.FIRST_COMPLETED
                )
                if done:
                    break
                self._pull_soon()  # a wake-up may have been lost: pull anyway now and then
            stop_wait.cancel()
            closed_wait.cancel()
            self.connected.clear()
            self._sio = None
            await self._cancel_pulls()
            with contextlib.suppress(Exception):
                await sio.disconnect()
            _release_websocket(sio)

    async def _cancel_pulls(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _backoff(self, delay: float) -> None:
        # jittered exponential backoff; returns early when stopping
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay * (0.5 + random.random()))

    def _new_client(self) -> tuple[socketio.AsyncClient, asyncio.Event, list[Any]]:
        sio = socketio.AsyncClient(reconnection=False, logger=False, engineio_logger=False)
        closed = asyncio.Event()
        refused: list[Any] = []
        sio.on("disconnect", lambda *_: closed.set())
        sio.on("connect_error", lambda data=None: refused.append(data))

        async def inbox(data: Any) -> None:
            if self._sio is not sio or not isinstance(data, dict):
                return
            self._pull_soon()

        sio.on("inbox", inbox)
        for name in PUSHED_EVENTS:
            sio.on(name, self._event_forwarder(name))
        return sio, closed, refused

    def _event_forwarder(self, name: str) -> Callable[[Any], Awaitable[None]]:
        async def forward(data: Any = None) -> None:
            if self._on_event is not None:
                await self._on_event(name, data if isinstance(data, dict) else {})

        return forward

    def _pull_soon(self) -> None:
        if self._pulling is not None and not self._pulling.done():
            self._pull_pending = True
            return
        self._pulling = asyncio.ensure_future(self._pull())
        self._tasks.add(self._pulling)
        self._pulling.add_done_callback(self._tasks.discard)

    async def _pull(self) -> None:
        delay = self._backoff_initial
        while True:
            self._pull_pending = False
            try:
                await self._resume()
            except ApiError:
                # e.g. storage_unavailable: what was pushed is stored, so pull again (with back-off) rather
                # than wait for a push that may never come.
                if self._stopping.is_set():
                    return
                await self._backoff(delay)
                delay = min(self._backoff_max, delay * 2)
                self._pull_pending = True
            except TransportError:
                return  # the connection dropped: the reconnect drains from the cursor
            if not self._pull_pending:
                return

    async def _resume(self) -> None:
        # The consumer advances the cursor asynchronously: also skip what this connection already handed over.
        # The next page is requested while the consumer works on this one (the server reads and sends it
        # meanwhile), so at most two pages are in memory.
        after = max(self._cursor(), self._pulled)
        fetch = asyncio.ensure_future(self.call("sync", self._sync_query(after)))
        try:
            while True:
                page = await fetch
                envelopes: list[JSON] = list(page.get("envelopes") or [])
                more = bool(page.get("more")) and bool(envelopes)
                if envelopes:
                    after = max(after, *(int(e["pos"]) for e in envelopes))
                    if more:
                        fetch = asyncio.ensure_future(self.call("sync", self._sync_query(after)))
                    await self._on_envelopes(envelopes)
                    self._pulled = max(self._pulled, after)
                if not more:
                    return
        finally:
            if not fetch.done():
                fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetch  # a prefetch the consumer never took: its failure is nobody's news

    def _sync_query(self, after: int) -> JSON:
        """A pull carrying the acknowledgement the device has ready (``ack_up_to``: no ``ack`` event)."""
        query: JSON = {"after": after, "limit": SYNC_PAGE}
        ack_up_to = self._fold_ack() if self._fold_ack is not None else None
        if ack_up_to:
            query["ack_up_to"] = ack_up_to
        return query


def _release_websocket(sio: socketio.AsyncClient) -> None:
    """Give back the HTTP connection under a websocket the server dropped. When the server goes away
    (``ServerDisconnectedError``), aiohttp marks the websocket closed without releasing its response, and
    engine.io's disconnect then skips ``ws.close()``: the connection would be left to the garbage collector
    ("Unclosed connection" ResourceWarning). Closing an already released response is a no-op."""
    response = getattr(getattr(sio.eio, "ws", None), "_response", None)
    if isinstance(response, aiohttp.ClientResponse):
        response.close()


def _refusal(data: Any) -> ApiError | None:
    """The error object of a refused connect: socket.io wraps it as ``{"message": ..., "data": <error>}``."""
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
    return ApiError.from_wire(data) if isinstance(data, dict) else None
