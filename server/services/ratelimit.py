"""Rate limits, counted in the Broker so that every node shares the same buckets."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from server import limits
from server.errors import LimitReached, RateLimited
from storage.broker import Broker

__all__ = ["RateLimiter", "rate_subject"]


def rate_subject(subject: str) -> str:
    """The bucket of a subject: an IPv6 address counts as its /64, anything else as itself.

    One IPv6 client is routinely handed a whole /64 (SLAAC, privacy addresses): keyed on the full address
    it could rotate through 2**64 buckets and never be limited.
    """
    if ":" not in subject:
        return subject
    try:
        address = ipaddress.IPv6Address(subject)
    except ValueError:
        return subject
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    prefix = limits.RATE_IPV6_PREFIX_BITS
    return str(ipaddress.IPv6Network((address, prefix), strict=False))


class RateLimiter:
    """``rules`` maps a rule name to (events, window seconds); defaults to ``limits.RATE_RULES``."""

    def __init__(self, broker: Broker, rules: Mapping[str, tuple[int, float]] | None = None) -> None:
        self._broker = broker
        self.rules = dict(limits.RATE_RULES if rules is None else rules)

    async def check(self, rule: str, subject: str) -> None:
        """Count one event of ``subject`` (an IP, a device id) under ``rule``; raise RateLimited when over."""
        limit, window = self.rules[rule]
        retry_after = await self._broker.hit(f"{rule}:{rate_subject(subject)}", limit, window)
        if retry_after is not None:
            raise RateLimited(retry_after)

    async def allow(self, rule: str, subject: str) -> bool:
        """Count one event like ``check`` but answer False instead of raising (degrade, not refuse)."""
        limit, window = self.rules[rule]
        return await self._broker.hit(f"{rule}:{subject}", limit, window) is None

    async def cap_new(self, kind: str, subject: str, limit: int, lifetime_seconds: float) -> None:
        """Count one new short-lived item (a link code) of ``subject``; LimitReached past ``limit`` per
        lifetime. Items live ``lifetime_seconds``, so at most ``2 * limit`` are ever outstanding (fixed
        windows) without a storage read, and the count is shared by every node."""
        retry_after = await self._broker.hit(f"cap:{kind}:{subject}", limit, lifetime_seconds)
        if retry_after is not None:
            raise LimitReached(
                f"You have {limit} unused {kind.replace('_', ' ')}; use one or wait until they expire.",
                {"limit": limit, "what": kind, "retry_after_seconds": int(retry_after)},
            )
