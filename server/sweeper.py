"""Feature: the periodic expiry sweep (envelopes, tokens, challenges, invitations, link codes) and the
retention sweep (server/services/retention.py)."""

from __future__ import annotations

import asyncio
import logging

from server import limits
from server.context import AppContext

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(ctx: AppContext) -> None:
    async def sweep_forever() -> None:
        while True:
            try:
                await ctx.services.expiry.sweep()
                await ctx.services.retention.sweep()
            except Exception:
                log.exception("expiry sweep failed")
            await asyncio.sleep(limits.SWEEP_INTERVAL_SECONDS)

    ctx.add_background("expiry-sweeper", sweep_forever)
