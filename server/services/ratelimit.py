"""Rate limits, counted in the Broker so that every node shares the same buckets."""

from __future__ import annotations

from collections.abc import Mapping

from server import limits
from server.errors import RateLimited
from storage.broker import Broker

__all__ = ["RateLimiter"]


class RateLimiter:
    """``rules`` maps a rule name to (events, window seconds); defaults to ``limits.RATE_RULES``."""

    def __init__(self, broker: Broker, rules: Mapping[str, tuple[int, float]] | None = None) -> None:
        self._broker = broker
        self.rules = dict(limits.RATE_RULES if rules is None else rules)

    async def check(self, rule: str, subject: str) -> None:
        """Count one event of ``subject`` (an IP, a device id) under ``rule``; raise RateLimited when over."""
        limit, window = self.rules[rule]
        retry_after = await self._broker.hit(f"{rule}:{subject}", limit, window)
        if retry_after is not None:
            raise RateLimited(retry_after)

    async def allow(self, rule: str, subject: str) -> bool:
        """Count one event like ``check`` but answer False instead of raising (degrade, not refuse)."""
        limit, window = self.rules[rule]
        return await self._broker.hit(f"{rule}:{subject}", limit, window) is None
