"""Prekeys: signed-prekey rotation, one-time prekey upload, and bundle fetch (atomic claim).

Bundle fetches are allowed only between linked accounts once consent holds (or within one's own account),
limited per requesting device; one-time prekey claims are limited per (requester, target device), and past
that limit the bundle comes without one, so nobody can drain a device's prekeys (docs/PROTOCOL.md 19).
"""

from __future__ import annotations

from collections.abc import Sequence

from server import limits
from server._verify import verify_prekey
from server.audit import AuditEvent, AuditRecorder, NullAuditRecorder
from server.errors import Conflict, Forbidden, NotFound, NotLinked, SignatureInvalid
from server.services.links import LinkService
from server.services.notify import Notifier
from server.services.ratelimit import RateLimiter
from server.services.values import Principal
from server.wire.responses import PrekeysLowEvent
from storage.errors import PrekeyIdConflict, PrekeyLimitReached
from storage.protocols import Storage
from storage.records import Bundle, OneTimePrekey, SignedPrekey

__all__ = ["PrekeyService"]


class PrekeyService:
    def __init__(
        self,
        storage: Storage,
        links: LinkService,
        notifier: Notifier,
        limiter: RateLimiter,
        *,
        audit: AuditRecorder | None = None,
    ) -> None:
        self._audit = audit or NullAuditRecorder()
        self._storage = storage
        self._links = links
        self._notifier = notifier
        self._limiter = limiter

    async def rotate_signed_prekey(self, caller: Principal, prekey: SignedPrekey) -> None:
        device = await self._storage.devices.get_device(caller.device_id)
        assert device is not None  # the caller's token references it
        if not verify_prekey(device.identity_key, prekey.id, prekey.public, prekey.signature):
            raise SignatureInvalid(
                "The signed prekey's signature does not verify with your identity key.",
                {"field": "signature"},
            )
        if device.signed_prekey == prekey:
            return  # the same key again (a client retrying its upload): nothing changed, nothing to audit
        await self._storage.devices.set_signed_prekey(caller.device_id, prekey)
        await self._audit.record(
            AuditEvent.KEY_CHANGED, account_id=caller.account_id, device_id=caller.device_id
        )

    async def add_one_time_prekeys(self, caller: Principal, prekeys: Sequence[OneTimePrekey]) -> int:
        try:
            return await self._storage.prekeys.add_one_time_prekeys(
                caller.device_id, prekeys, limits.MAX_PREKEYS_STORED
            )
        except PrekeyIdConflict:
            raise Conflict("A prekey id in this upload is already stored for this device.") from None
        except PrekeyLimitReached:
            raise Conflict(
                f"A device stores at most {limits.MAX_PREKEYS_STORED} one-time prekeys.",
                {"limit": limits.MAX_PREKEYS_STORED},
            ) from None

    async def count(self, caller: Principal) -> int:
        return await self._storage.prekeys.count_one_time_prekeys(caller.device_id)

    async def one_time_prekey_ids(self, caller: Principal) -> list[int]:
        return await self._storage.prekeys.get_one_time_prekey_ids(caller.device_id)

    async def _authorize(self, caller: Principal, account_id: str) -> None:
        if account_id != caller.account_id:
            link = await self._links.require_link(caller, account_id)
            await self._links.require_reachable(account_id)
            await self._links.require_consent(link.therapist_id, link.client_id)

    async def bundles_for_account(self, caller: Principal, account_id: str) -> list[Bundle]:
        await self._limiter.check("bundle_per_device", caller.device_id)
        await self._authorize(caller, account_id)
        devices = await self._storage.devices.get_devices([account_id])
        ids = [d.device_id for d in devices if d.active and d.device_id != caller.device_id]
        return await self._claim(caller, ids)

    async def bundle_for_device(self, caller: Principal, device_id: str) -> Bundle:
        await self._limiter.check("bundle_per_device", caller.device_id)
        device = await self._storage.devices.get_device(device_id)
        if device is None or not device.active:
            raise NotFound("No active device has this id.")
        try:
            await self._authorize(caller, device.account_id)
        except (NotLinked, Forbidden):
            raise NotFound("No active device has this id.") from None  # not visible to you
        bundles = await self._claim(caller, [device_id])
        if not bundles:
            raise NotFound("No active device has this id.")
        return bundles[0]

    async def _claim(self, caller: Principal, device_ids: list[str]) -> list[Bundle]:
        claim: list[str] = []
        spare: list[str] = []
        for device_id in device_ids:
            allowed = await self._limiter.allow("otpk_claim_per_pair", f"{caller.device_id}:{device_id}")
            (claim if allowed else spare).append(device_id)
        bundles = await self._storage.prekeys.claim_bundles(claim) if claim else []
        bundles += await self._without_one_time_prekey(spare)
        for bundle in bundles:
            if bundle.remaining < limits.PREKEYS_LOW_THRESHOLD:
                await self._notifier.to_device(
                    bundle.device_id, "prekeys_low", PrekeysLowEvent(bundle.remaining)
                )
        return bundles

    async def _without_one_time_prekey(self, device_ids: list[str]) -> list[Bundle]:
        """Bundles for a requester past its claim limit: none claimed (the replay cache protects them)."""
        out = []
        for device_id in device_ids:
            device = await self._storage.devices.get_device(device_id)
            if device is None or not device.active:
                continue
            remaining = await self._storage.prekeys.count_one_time_prekeys(device_id)
            out.append(
                Bundle(
                    device_id, device.identity_key, device.signed_prekey, None, remaining, device.certificate
                )
            )
        return out

    async def notify_if_low(self, caller: Principal) -> None:
        """On connect: a device that ran low while offline is told at once."""
        count = await self.count(caller)
        if count < limits.PREKEYS_LOW_THRESHOLD:
            await self._notifier.to_device(caller.device_id, "prekeys_low", PrekeysLowEvent(count))
