"""The mailbox: validate a send (links, consent, exact device set), store it durably, wake the recipients.

A send is acknowledged only after ``MailboxStore.add_send`` returned, i.e. after its commit, and never waits
for the live wake-up: that is queued (``WakeUps``) and emitted in the background. Retries with the same
(sender device, message id) return the original result and store nothing.

A batch of sends (``send_batch``) is admitted in order and stops at the first refusal, so what follows a
refused send of a conversation is never stored ahead of it; the admitted sends are written together (their
writes join one group commit) and answered one by one. Nothing here depends on who the sender is beyond
what a single send checks, so batching survives a change of how a send is authorized.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging

from server.clock import Clock
from server.errors import AppError, DeviceSetMismatch, Forbidden, Unauthenticated
from server.observability import DeliveryPath, NullObserver, Observer
from server.services.authz_cache import AuthzCache
from server.services.links import LinkService
from server.services.mailbox_cache import MailboxTailCache
from server.services.ratelimit import RateLimiter
from server.services.values import Principal, SendRequest
from server.services.wakeups import WakeUps
from server.wire.responses import MailboxItemOut
from storage.protocols import Storage
from storage.records import MailboxItem, NewEnvelope, NewSend, SendOutcome
from storage.send_facts import SendFacts

__all__ = ["MailboxService", "item_out"]

log = logging.getLogger(__name__)


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
        tail: MailboxTailCache | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._observer = observer or NullObserver()
        self._storage = storage
        self._links = links
        self._authz = authz
        self._tail = tail if tail is not None else MailboxTailCache(enabled=False)
        self._wakeups = wakeups
        self._limiter = limiter
        self._clock = clock
        self._ttl_ms = 1000 * envelope_ttl_seconds
        self._acks: set[asyncio.Future[None]] = set()  # acknowledgements folded into sync, in flight

    async def send(self, caller: Principal, req: SendRequest) -> SendOutcome:
        admitted = await self._admit(caller, req)  # refusals are counted by code at the transport edge
        if isinstance(admitted, SendOutcome):
            return admitted
        stored = functools.partial(self._stored, admitted)
        return await self._storage.mailbox.add_send(admitted, on_commit=stored)

    async def send_batch(
        self, caller: Principal, reqs: list[SendRequest]
    ) -> list[SendOutcome | BaseException]:
        """Answers in order, ending at the first refusal (the sends after it are not looked at)."""
        admitted: list[SendOutcome | NewSend | BaseException] = []
        for req in reqs:
            try:
                admitted.append(await self._admit(caller, req))
            except AppError as exc:
                admitted.append(exc)
                self._observer.send_rejected(exc.code.value)  # a single send's is counted at the edge
                break
        fresh = [a for a in admitted if isinstance(a, NewSend)]
        # Queued in one loop iteration: one hand-off to the writer, one commit (storage.sqlite._engine).
        stored = await asyncio.gather(
            *(
                self._storage.mailbox.add_send(n, on_commit=functools.partial(self._stored, n))
                for n in fresh
            ),
            return_exceptions=True,
        )
        by_send = dict(zip((id(n) for n in fresh), stored, strict=True))
        return [by_send[id(item)] if isinstance(item, NewSend) else item for item in admitted]

    async def _admit(self, caller: Principal, req: SendRequest) -> SendOutcome | NewSend:
        """The prior outcome of a retried send, or the send to store; AppError when refused."""
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
        return NewSend(
            message_id=req.message_id,
            from_account=caller.account_id,
            from_device=caller.device_id,
            to_account=req.to_account,
            envelopes=tuple(NewEnvelope(e.to_device, e.type, e.ciphertext) for e in req.envelopes),
            sent_at=now,
            expires_at=now + self._ttl_ms,
        )

    def _stored(self, send: NewSend, outcome: SendOutcome) -> None:
        """Run on the loop at the commit, in commit order (``add_send``'s ``on_commit``): the tail cache
        appends without a gap, and the wake-ups go out even if the sender stopped waiting."""
        if not outcome.duplicate:
            self._observer.envelopes_accepted(len(send.envelopes))
            if self._tail.enabled:
                for env in send.envelopes:
                    item = MailboxItem(
                        outcome.positions[env.to_device],
                        send.message_id,
                        send.from_account,
                        send.from_device,
                        env.type,
                        env.ciphertext,
                        send.sent_at,
                        send.expires_at,
                    )
                    self._tail.appended(env.to_device, item)
            for device_id, pos in outcome.positions.items():
                self._wakeups.wake(device_id, pos)  # after the commit, never awaited

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

    async def sync(
        self, caller: Principal, after: int, limit: int, ack_up_to: int | None = None
    ) -> tuple[list[MailboxItem], bool]:
        """A page after ``after``. With ``ack_up_to`` the pull also acknowledges: the delete joins the next
        group commit and the page does not wait for it (a lost acknowledgement only means redelivery, which
        clients de-duplicate), so folding the ack into the pull saves a round trip and costs no latency."""
        if ack_up_to is not None and ack_up_to > 0:
            task = asyncio.ensure_future(self._ack_quietly(caller, ack_up_to))
            self._acks.add(task)
            task.add_done_callback(self._acks.discard)
        now = self._clock()
        device = caller.device_id
        # Served on the loop from what this process committed, when it can be (services/mailbox_cache.py).
        items = self._tail.get(device, after, limit + 1, now) if self._tail.enabled else None
        if items is None:
            self._tail.reading(device)
            read: list[MailboxItem] | None = None
            try:
                items = read = await self._storage.mailbox.get_items(device, after, limit + 1, now)
            finally:
                self._tail.read(device, caller.account_id, after, limit + 1, read)
        handed = [(i.pos, i.sent_at) for i in items[:limit]]
        self._observer.envelopes_handed_out(DeliveryPath.SYNC, caller.device_id, handed, now)
        return items[:limit], len(items) > limit

    async def _ack_quietly(self, caller: Principal, up_to: int) -> None:
        try:
            await self.ack(caller, up_to)
        except Exception as exc:  # e.g. storage_unavailable: the next acknowledgement covers it
            log.warning("acknowledgement in sync failed", extra={"error": type(exc).__name__})

    async def ack(self, caller: Principal, up_to: int) -> int:
        self._tail.acknowledged(caller.device_id, up_to)
        deleted = await self._storage.mailbox.delete_items(caller.device_id, up_to)
        self._observer.envelopes_acknowledged(deleted)
        return deleted
