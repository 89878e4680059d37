"""Rate limits, counted in the Broker so that every node shares the same buckets."""

from __future__ import annotations

from server.errors import RateLimited
from storage.broker import Broker

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def check(self, key: str, rule: tuple[int, float]) -> None:
        """Count one event; raise RateLimited (with Retry-After) when over ``rule = (events, window)``."""
        limit, window = rule
        retry_after = await self._broker.hit(key, limit, window)
        if retry_after is not None:
            raise RateLimited(retry_after)
