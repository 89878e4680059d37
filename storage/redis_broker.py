"""The Broker Protocol on Redis (redis-py asyncio), shared by every node of a deployment.

Keys (``<prefix>`` defaults to ``confidant:``):

- ``<prefix>rl:<key>``        rate-limit window counter; INCR + PEXPIRE in one Lua script (atomic)
- ``<prefix>presence:<dev>``  node id holding the device's socket; PX expiry, refreshed by a heartbeat
- ``<prefix>state:<key>``     ephemeral room state (bytes); PX expiry

Losing Redis must never lose a message: live push is only a wake-up, the durable mailbox is the truth.
So while Redis is unreachable this broker DEGRADES instead of failing the caller:

- ``hit`` falls back to a node-local window (limits hold per node instead of cluster-wide);
- ``set_presence`` / ``clear_presence`` are remembered locally and replayed once Redis is back
  (a restarted Redis is empty: this node re-publishes the devices it holds);
- ``get_presence`` answers None (unknown), ``ping`` raises ``BrokerUnavailable`` (readiness: degraded);
- room state raises ``BrokerUnavailable``: a waiting room cannot be guessed.

After a failure no request touches Redis again until a background probe (a ``PING`` every ``RETRY_AFTER_S``,
bounded by ``CALL_TIMEOUT_S``) has succeeded: a dead or frozen Redis costs the one request that met the
failure, never one per request or one per interval. Transitions are logged once.
Fan-out of wake-ups is NOT here: it is ``socketio.AsyncRedisManager`` (``storage/redis_pubsub.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import StorageUnavailable
from storage.memory_broker import MemoryBroker
from storage.redis_pubsub import PubSubManager, PullNow

__all__ = ["BrokerUnavailable", "RedisBroker", "socketio_manager"]

log = logging.getLogger(__name__)

T = TypeVar("T")

SOCKET_TIMEOUT_S = 1.0  # a healthy loopback/LAN Redis answers in well under a millisecond
# Connections per client. Under load, callers WAIT for a free connection (BlockingConnectionPool) instead of
# failing: redis-py's default pool raises "Too many connections", which would drop live pushes and make the
# broker believe Redis is down.
POOL_CONNECTIONS = 64
POOL_WAIT_S = 2.0
RETRY_AFTER_S = 1.0  # circuit-breaker pause after a failure
SOCKETIO_CHANNEL = "confidant-socketio"
CALL_TIMEOUT_S = 2.0  # any one call, waiting for a pooled connection included: a frozen Redis costs this much

# One fixed window per key: the first hit creates the counter with the window as expiry. Returns -1 when
# within the limit, else the milliseconds left in the window. A counter that lost its expiry gets it back.
_HIT_LUA = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
if n > tonumber(ARGV[1]) then
  return ttl
end
return -1
"""

# Delete the presence entry only if this node still holds it: a device that already reconnected to another
# node must not be marked offline by the old node's late disconnect.
_CLEAR_IF_HELD_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_REDIS_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


class BrokerUnavailable(StorageUnavailable):
    """Redis cannot be reached; live push, presence and cluster-wide limits are degraded."""


def socketio_manager(redis_url: str, pull_now: PullNow | None = None) -> PubSubManager:
    """The python-socketio client manager that carries cross-node emits over Redis pub/sub, with bounded
    publishes, prompt resubscription and "pull now" ticks while it is unhealthy (storage/redis_pubsub.py)."""
    return PubSubManager(redis_url, channel=SOCKETIO_CHANNEL, pull_now=pull_now)


def _blocking_pool(url: str, **options: Any) -> aioredis.BlockingConnectionPool:
    pool: aioredis.BlockingConnectionPool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_CONNECTIONS,
        timeout=POOL_WAIT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        **options,
    )
    return pool


class RedisBroker:
    """``Broker`` on Redis. Create with ``RedisBroker(url)``; ``await close()`` when done.

    ``heartbeat_seconds`` is how often this node re-publishes the presence it holds (None: never, presence
    then expires after the TTL given to ``set_presence`` unless the caller sets it again).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "confidant:",
        heartbeat_seconds: float | None = None,
        client: aioredis.Redis | None = None,
    ) -> None:
        self._owns_client = client is None
        self._redis: aioredis.Redis = client or aioredis.Redis(
            connection_pool=_blocking_pool(url, socket_timeout=SOCKET_TIMEOUT_S, health_check_interval=30)
        )
        self._prefix = prefix
        self._hit_script = self._redis.register_script(_HIT_LUA)
        self._clear_script = self._redis.register_script(_CLEAR_IF_HELD_LUA)
        self._fallback = MemoryBroker()
        self._held: dict[str, tuple[str, float]] = {}  # device -> (node, ttl): what this node published
        self._degraded = False
        self._probe: asyncio.Task[None] | None = None
        self._heartbeat_seconds = heartbeat_seconds
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        """True since the last failed Redis call, until one succeeds again."""
        return self._degraded

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}{kind}:{key}"

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        if self._degraded:
            self._probe_soon()
            raise BrokerUnavailable("the broker (Redis) is unreachable")
        try:
            return await asyncio.wait_for(op(), CALL_TIMEOUT_S)
        except _REDIS_ERRORS as exc:
            if not self._degraded:
                self._degraded = True
                log.error(
                    "redis unreachable: live push, presence and cluster-wide rate limits degraded (%s)",
                    exc.__class__.__name__,
                )
            self._probe_soon()
            raise BrokerUnavailable("the broker (Redis) is unreachable") from exc

    def _probe_soon(self) -> None:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._run_probe(), name="redis-broker-probe")

    async def _run_probe(self) -> None:
        # Requests fail fast while degraded; only this task waits on Redis, until it answers again.
        while self._degraded:
            await asyncio.sleep(RETRY_AFTER_S)
            try:
                await asyncio.wait_for(self._redis.ping(), CALL_TIMEOUT_S)
            except _REDIS_ERRORS:
                continue
            self._degraded = False
            log.warning("redis reachable again: broker back to normal")
            self._replay_presence_soon()

    async def ping(self) -> None:
        async def op() -> Any:
            return await self._redis.ping()

        await self._call(op)

    async def hit(self, key: str, limit: int, window_seconds: float) -> float | None:
        window_ms = max(int(window_seconds * 1000), 1)

        async def op() -> Any:
            return await self._hit_script(keys=[self._key("rl", key)], args=[limit, window_ms])

        try:
            left_ms = int(await self._call(op))
        except BrokerUnavailable:
            return await self._fallback.hit(key, limit, window_seconds)
        if left_ms < 0:
            return None
        return float(max(math.ceil(left_ms / 1000), 1))

    async def set_presence(self, device_id: str, node_id: str, ttl_seconds: float) -> None:
        self._held[device_id] = (node_id, ttl_seconds)
        self._ensure_heartbeat()
        with contextlib.suppress(BrokerUnavailable):  # replayed by the heartbeat once Redis is back
            await self._publish_presence(device_id, node_id, ttl_seconds)

    async def _publish_presence(self, device_id: str, node_id: str, ttl_seconds: float) -> None:
        async def op() -> Any:
            return await self._redis.set(
                self._key("presence", device_id), node_id, px=max(int(ttl_seconds * 1000), 1)
            )

        await self._call(op)

    async def clear_presence(self, device_id: str, node_id: str) -> None:
        held = self._held.get(device_id)
        if held is not None and held[0] == node_id:
            del self._held[device_id]

        async def op() -> Any:
            return await self._clear_script(keys=[self._key("presence", device_id)], args=[node_id])

        with contextlib.suppress(BrokerUnavailable):  # the entry expires by itself
            await self._call(op)

    async def get_presence(self, device_id: str) -> str | None:
        async def op() -> Any:
            return await self._redis.get(self._key("presence", device_id))

        try:
            value = await self._call(op)
        except BrokerUnavailable:
            return None
        return value.decode() if isinstance(value, bytes) else value

    async def put_state(self, key: str, value: bytes, ttl_seconds: float) -> None:
        async def op() -> Any:
            return await self._redis.set(self._key("state", key), value, px=max(int(ttl_seconds * 1000), 1))

        await self._call(op)

    async def get_state(self, key: str) -> bytes | None:
        async def op() -> Any:
            return await self._redis.get(self._key("state", key))

        value = await self._call(op)
        return bytes(value) if value is not None else None

    async def delete_state(self, key: str) -> bool:
        async def op() -> Any:
            return await self._redis.delete(self._key("state", key))

        return bool(await self._call(op))

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat_seconds is not None and self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(
                self._run_heartbeat(self._heartbeat_seconds), name="redis-broker-heartbeat"
            )

    def _replay_presence_soon(self) -> None:
        if self._held:
            asyncio.get_running_loop().create_task(self._refresh_presence(), name="redis-broker-replay")

    async def _refresh_presence(self) -> None:
        for device_id, (node_id, ttl) in list(self._held.items()):
            try:
                await self._publish_presence(device_id, node_id, ttl)
            except BrokerUnavailable:
                return

    async def _run_heartbeat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._refresh_presence()

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        self._held.clear()
        await self._redis.aclose(close_connection_pool=self._owns_client)
        await self._fallback.close()
