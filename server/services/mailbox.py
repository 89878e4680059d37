"""The mailbox: validate a send (links, consent, exact device set), store it durably, wake the recipients.

A send is acknowledged only after ``MailboxStore.add_send`` returned, i.e. after its commit, and never waits
for the live wake-up: that is queued (``WakeUps``) and emitted in the background. Retries with the same
(sender device, message id) return the original result and store nothing.
"""

from __future__ import annotations

import base64

from server.clock import Clock
from server.errors import AppError, DeviceSetMismatch, Forbidden, Unauthenticated
from server.observability import DeliveryPath, NullObserver, Observer
from server.services.authz_cache import AuthzCache
from server.services.links import LinkService
from server.services.ratelimit import RateLimiter
from server.services.values import Principal, SendRequest
from server.services.wakeups import WakeUps
from server.wire.responses import MailboxItemOut
from storage.protocols import Storage
from storage.records import MailboxItem, NewEnvelope, NewSend, SendOutcome
from storage.send_facts import SendFacts

__all__ = ["MailboxService", "item_out"]


def item_out(item: MailboxItem) -> MailboxItemOut:
    return MailboxItemOut(
        pos=item.pos,
        id=item.message_id,
        from_account=item.from_account,
        from_device=item.from_device,
        type=item.type,
        ciphertext=base64.b64encode(item.ciphertext).decode("ascii"),
        sent_at=item.sent_at,
    )


def _check_device_set(caller: Principal, facts: SendFacts, addressed: set[str]) -> None:
    expected = facts.active_devices - {caller.device_id}
    if expected == addressed:
        return
    stale = addressed & facts.revoked_devices
    raise DeviceSetMismatch(
        "Address exactly every current device of the recipient and your other devices.",
        {
            "missing": sorted(expected - addressed),
            "extra": sorted(addressed - expected - stale),
            "stale": sorted(stale),
        },
    )


class MailboxService:
    def __init__(
        self,
        storage: Storage,
        links: LinkService,
        wakeups: WakeUps,
        limiter: RateLimiter,
        clock: Clock,
        envelope_ttl_seconds: int,
        *,
        authz: AuthzCache,
        observer: Observer | None = None,
    ) -> None:
        self._observer = observer or NullObserver()
        self._storage = storage
        self._links = links
        self._authz = authz
        self._wakeups = wakeups
        self._limiter = limiter
        self._clock = clock
        self._ttl_ms = 1000 * envelope_ttl_seconds

    async def send(self, caller: Principal, req: SendRequest) -> SendOutcome:
        outcome = await self._send(caller, req)  # refusals are counted by code at the transport edge
        if not outcome.duplicate:
            self._observer.envelopes_accepted(len(req.envelopes))
        return outcome

    async def _send(self, caller: Principal, req: SendRequest) -> SendOutcome:
        await self._limiter.check("send_per_device", caller.device_id)
        try:
            await self._authorize(caller, req)
        except AppError:
            # A retry of an accepted send stays accepted even if links or devices changed since.
            prior = await self._storage.mailbox.get_send(caller.device_id, req.message_id)
            if prior is not None:
                return prior
            raise
        now = self._clock()
        outcome = await self._storage.mailbox.add_send(
            NewSend(
                message_id=req.message_id,
                from_account=caller.account_id,
                from_device=caller.device_id,
                to_account=req.to_account,
                envelopes=tuple(NewEnvelope(e.to_device, e.type, e.ciphertext) for e in req.envelopes),
                sent_at=now,
                expires_at=now + self._ttl_ms,
            )
        )
        if not outcome.duplicate:
            for device_id, pos in outcome.positions.items():
                self._wakeups.wake(device_id, pos)  # after the commit, never awaited
        return outcome

    async def _authorize(self, caller: Principal, req: SendRequest) -> None:
        to = req.to_account
        pair = None if to == caller.account_id else self._links.pair(caller, to)  # admins: not_linked
        # One storage call on a miss, none on a hit (server/services/authz_cache.py says why that is exact).
        facts = await self._authz.get_send_facts(caller.account_id, to, pair)
        if not facts.sender_enabled:
            raise Forbidden("This account is disabled.")
        if pair is not None:
            assert facts.pair is not None  # asked for with a pair
            self._links.check_pair(pair[0], facts.pair)  # not_linked, then forbidden, then consent_required
        if caller.device_id not in facts.active_devices:
            raise Unauthenticated("This device has been revoked.")
        _check_device_set(caller, facts, {e.to_device for e in req.envelopes})

    async def sync(self, caller: Principal, after: int, limit: int) -> tuple[list[MailboxItem], bool]:
        now = self._clock()
        items = await self._storage.mailbox.get_items(caller.device_id, after, limit + 1, now)
        handed = [(i.pos, i.sent_at) for i in items[:limit]]
        self._observer.envelopes_handed_out(DeliveryPath.SYNC, caller.device_id, handed, now)
        return items[:limit], len(items) > limit

    async def ack(self, caller: Principal, up_to: int) -> int:
        deleted = await self._storage.mailbox.delete_items(caller.device_id, up_to)
        self._observer.envelopes_acknowledged(deleted)
        return deleted
