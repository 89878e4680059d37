"""Cross-node socket.io emits over Redis pub/sub (python-socketio's ``AsyncRedisManager``), made fault-aware.

python-socketio's manager publishes without a timeout, retries its listener with a back-off that doubles to
60 s, and logs two error lines per dropped publish. Wake-ups must stay bounded under a dead, frozen or
partitioned Redis, so this subclass:

- publishes on a client with socket timeouts, each publish bounded by ``PUBLISH_TIMEOUT_S``; while pub/sub is
  unhealthy, publishes are dropped at once (they are wake-ups; the mailbox is the truth);
- resubscribes with a back-off capped at ``RESUBSCRIBE_MAX_S`` (not 60 s);
- proves its subscription every ``PING_S``: it publishes on its own ping channel and expects to hear it back
  within ``PONG_DEADLINE_S``; a subscription that hears nothing (a frozen Redis keeps sockets open) is torn
  down and made again;
- while unhealthy, calls ``pull_now(server)`` every ``POLL_TICK_S`` (the app emits a local "pull now" to every
  device on this node), and once more when healthy again, so delivery lags a fault by at most a tick;
- logs one line per transition and one "still unhealthy" line per ``LOG_EVERY_S``.

``disconnect_room`` closes connections on every node (python-socketio's ``close_room`` only empties the room).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import socketio

__all__ = ["PubSubManager"]

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 1.0  # a healthy Redis publishes in well under a millisecond
CONNECT_TIMEOUT_S = 1.0
RESUBSCRIBE_MAX_S = 1.0  # python-socketio waits up to 60 s: deliveries would stall that long after an outage
PING_S = 0.5
PONG_DEADLINE_S = 2.0  # no ping heard back for this long: the subscription is dead or hung
POLL_TICK_S = 1.0  # "pull now" to this node's devices while pub/sub is unhealthy
LOG_EVERY_S = 30.0
POOL_CONNECTIONS = 64
POOL_WAIT_S = 2.0
_DISCONNECT = "confidant_disconnect"  # marks a close_room message that also closes the connections

PullNow = Callable[[socketio.AsyncServer], Awaitable[None]]


def _client(url: str, socket_timeout: float | None) -> aioredis.Redis:
    # A blocking pool: under load callers wait for a free connection instead of failing with "Too many
    # connections" (which would drop wake-ups and look like an outage).
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_CONNECTIONS,
        timeout=POOL_WAIT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=socket_timeout,
        socket_keepalive=True,
    )
    return aioredis.Redis(connection_pool=pool)


class PubSubManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    def __init__(self, url: str, *, channel: str, pull_now: PullNow | None = None, **kwargs: Any) -> None:
        super().__init__(url, channel=channel, **kwargs)
        self._pull_now = pull_now
        self._ping_channel = f"{channel}-ping:{self.host_id}"
        self._last_pong = 0.0
        self._healthy = False
        self._ever_healthy = False
        self._trouble_since = time.monotonic()
        self._logged_at = 0.0
        self.redis = _client(url, PUBLISH_TIMEOUT_S)  # publishes; redis-py reconnects it after errors
        self._listener: aioredis.Redis | None = None
        self._closing: set[Any] = set()
        self._watcher: Any = None
        self._restarted = 0.0

    @property
    def healthy(self) -> bool:
        """Subscribed and hearing its own pings: cross-node wake-ups flow."""
        return self._healthy

    # -- connections -------------------------------------------------------------------------------------

    def _redis_connect(self) -> None:
        # The subscription's own client: its reads block (silence is normal there; liveness is proven by
        # the pings instead). A new one after every failure; the old one closes in the background.
        old = self._listener
        if isinstance(old, aioredis.Redis):
            task = self.server.start_background_task(old.aclose, close_connection_pool=True)
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        self._listener = _client(self.redis_url, None)
        self.pubsub = self._listener.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    async def _publish(self, data: Any) -> Any:
        if not self._healthy and self._ever_healthy:
            return None  # dropped: a wake-up; devices are polled until pub/sub is back
        return await self._publish_now(self.channel, self.json.dumps(data))

    async def _publish_now(self, channel: str, payload: str) -> Any:
        try:
            return await asyncio.wait_for(self.redis.publish(channel, payload), PUBLISH_TIMEOUT_S)
        except Exception as exc:  # any failure of a wake-up is the same: note it, never raise to the caller
            self._trouble(f"publish failed ({exc.__class__.__name__})")
            return None

    async def _redis_listen_with_retries(self) -> Any:
        delay = 0.05
        while True:
            try:
                self._redis_connect()
                await asyncio.wait_for(
                    self.pubsub.subscribe(self.channel, self._ping_channel), CONNECT_TIMEOUT_S
                )
                delay = 0.05
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._trouble(f"subscription lost ({exc.__class__.__name__})")
                await asyncio.sleep(delay)
                delay = min(RESUBSCRIBE_MAX_S, delay * 2)

    async def _listen(self) -> Any:
        channel, ping = self.channel.encode(), self._ping_channel.encode()
        async for message in self._redis_listen_with_retries():
            if message.get("type") != "message":
                continue
            if message.get("channel") == ping:
                self._last_pong = time.monotonic()
            elif message.get("channel") == channel and "data" in message:
                yield message["data"]

    # -- health ------------------------------------------------------------------------------------------

    def initialize(self) -> None:
        super().initialize()
        if not self.write_only:
            self._watcher = self.server.start_background_task(self._watch)

    async def _watch(self) -> None:
        last_tick = 0.0
        while True:
            await asyncio.sleep(PING_S)
            await self._publish_now(self._ping_channel, "1")
            now = time.monotonic()
            if now - self._last_pong < PONG_DEADLINE_S:
                if not self._healthy:
                    self._recovered()
                continue
            if self._healthy:
                self._trouble("no ping heard back: subscription dead or hung")
            if now - last_tick >= POLL_TICK_S:
                last_tick = now
                await self._call_pull_now()
            if now - self._last_pong > PONG_DEADLINE_S + RESUBSCRIBE_MAX_S and now - self._restarted > 2.0:
                # Still deaf: a hung socket never errors by itself, so the listener is started afresh.
                self._restarted = now
                self._restart_listener()

    def _trouble(self, why: str) -> None:
        now = time.monotonic()
        if self._healthy:
            self._healthy = False
            self._trouble_since = self._logged_at = now
            log.error("redis pub/sub unhealthy (%s): this node's devices are polled every %.0f s", why,
                      POLL_TICK_S)
        elif now - self._logged_at >= LOG_EVERY_S:
            self._logged_at = now
            log.error("redis pub/sub still unhealthy after %.0f s (%s)", now - self._trouble_since, why)

    def _recovered(self) -> None:
        was = self._ever_healthy
        self._healthy = self._ever_healthy = True
        if not was:
            return  # the first subscription at start-up: nothing was missed
        log.warning("redis pub/sub healthy again after %.1f s: asking connected devices to pull",
                    time.monotonic() - self._trouble_since)
        task = self.server.start_background_task(self._call_pull_now)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _restart_listener(self) -> None:
        thread = getattr(self, "thread", None)
        if thread is not None:
            thread.cancel()
        self.thread = self.server.start_background_task(self._thread)

    async def _call_pull_now(self) -> None:
        if self._pull_now is None:
            return
        try:
            await self._pull_now(self.server)
        except Exception:
            log.exception("pull_now failed")

    # -- cross-node disconnects ----------------------------------------------------------------------------

    async def disconnect_room(self, room: str, namespace: str = "/") -> None:
        """Close every connection in ``room`` on every node (e.g. a revoked device, a revoked token).

        Travels as python-socketio's own ``close_room`` message with a flag that this class understands, so
        nodes need no protocol of ours. While Redis is down only this node's connections are closed."""
        await self._disconnect_local(room, namespace)
        await self._publish(
            {
                "method": "close_room",
                "room": room,
                "namespace": namespace,
                "host_id": self.host_id,
                _DISCONNECT: True,
            }
        )

    async def _handle_close_room(self, message: dict[str, Any]) -> None:
        if message.get(_DISCONNECT):
            await self._disconnect_local(str(message.get("room")), str(message.get("namespace") or "/"))
        else:
            await super()._handle_close_room(message)

    async def _disconnect_local(self, room: str, namespace: str) -> None:
        for sid, _ in list(self.get_participants(namespace, room)):
            await self.server.disconnect(sid, namespace=namespace, ignore_queue=True)

    async def aclose(self) -> None:
        """Stop listening and close every Redis connection this manager opened (at app shutdown)."""
        tasks = [t for t in (self._watcher, getattr(self, "thread", None)) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        pubsub: Any = getattr(self, "pubsub", None)
        with contextlib.suppress(Exception):
            if pubsub is not None:
                await pubsub.aclose()
        for client in (getattr(self, "redis", None), self._listener):
            with contextlib.suppress(Exception):
                if isinstance(client, aioredis.Redis):
                    await client.aclose(close_connection_pool=True)
        for task in list(self._closing):
            with contextlib.suppress(Exception):
                await task
