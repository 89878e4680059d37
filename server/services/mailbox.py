"""The mailbox: validate a send (links, consent, exact device set), store it durably, push it live.

A send is acknowledged only after ``MailboxStore.add_send`` returned, i.e. after its commit. Retries with the
same (sender device, message id) return the original result and store nothing.
"""

from __future__ import annotations

import base64

from server.clock import Clock
from server.errors import AppError, DeviceSetMismatch, Unauthenticated
from server.observability import DeliveryPath, NullObserver, Observer
from server.services.links import LinkService
from server.services.notify import Notifier
from server.services.ratelimit import RateLimiter
from server.services.values import Principal, SendRequest
from server.wire.responses import InboxEvent, MailboxItemOut
from storage.protocols import Storage
from storage.records import Device, MailboxItem, NewEnvelope, NewSend, SendOutcome

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


def _check_device_set(caller: Principal, to_account: str, devices: list[Device], addressed: set[str]) -> None:
    expected = {
        d.device_id
        for d in devices
        if d.active and d.device_id != caller.device_id and d.account_id in (to_account, caller.account_id)
    }
    revoked = {d.device_id for d in devices if not d.active}
    if expected == addressed:
        return
    stale = addressed & revoked
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
        notifier: Notifier,
        limiter: RateLimiter,
        clock: Clock,
        envelope_ttl_seconds: int,
        *,
        observer: Observer | None = None,
    ) -> None:
        self._observer = observer or NullObserver()
        self._storage = storage
        self._links = links
        self._notifier = notifier
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
            for env in req.envelopes:
                item = MailboxItemOut(
                    pos=outcome.positions[env.to_device],
                    id=req.message_id,
                    from_account=caller.account_id,
                    from_device=caller.device_id,
                    type=env.type,
                    ciphertext=env.ciphertext_b64,
                    sent_at=now,
                )
                await self._notifier.to_device(env.to_device, "inbox", InboxEvent([item]))
        return outcome

    async def _authorize(self, caller: Principal, req: SendRequest) -> None:
        to = req.to_account
        devices: list[Device]
        if to == caller.account_id:
            devices = await self._storage.devices.get_devices([to])
        else:
            therapist_id, client_id = self._links.pair(caller, to)
            # Sequential on purpose: concurrent sends' reads share reader-thread hops (Engine batching),
            # and this avoids four tasks per send. Order gives not_linked before consent_required.
            await self._links.require_link(caller, to)
            await self._links.require_reachable(to)
            await self._links.require_consent(therapist_id, client_id)
            devices = await self._storage.devices.get_devices([caller.account_id, to])
        if not any(d.device_id == caller.device_id and d.active for d in devices):
            raise Unauthenticated("This device has been revoked.")
        _check_device_set(caller, to, devices, {e.to_device for e in req.envelopes})

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
