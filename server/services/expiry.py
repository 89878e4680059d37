"""The expiry sweeper: deletes expired envelopes, tokens, challenges, invitations and link codes."""

from __future__ import annotations

import logging

from server.clock import Clock
from server.observability import NullObserver, Observer
from storage.protocols import Storage

__all__ = ["ExpiryService"]

log = logging.getLogger(__name__)


class ExpiryService:
    def __init__(self, storage: Storage, clock: Clock, *, observer: Observer | None = None) -> None:
        self._storage = storage
        self._clock = clock
        self._observer = observer or NullObserver()

    async def sweep(self) -> dict[str, int]:
        now = self._clock()
        counts = {
            "envelopes": await self._storage.mailbox.delete_expired_items(now),
            "tokens": await self._storage.tokens.delete_expired_tokens(now),
            "challenges": await self._storage.challenges.delete_expired_challenges(now),
            "invitations": await self._storage.invitations.delete_expired_invitations(now),
            "link_codes": await self._storage.devices.delete_expired_link_codes(now),
        }
        self._observer.envelopes_expired(counts["envelopes"])
        if any(counts.values()):
            log.info("expired items deleted", extra={"deleted": counts})
        return counts
