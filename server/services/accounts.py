"""Accounts and devices: redeeming invitations, link codes for extra devices, revocation, contacts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from server import limits
from server._verify import verify_prekey
from server.audit import AuditEvent, AuditRecorder, NullAuditRecorder
from server.clock import Clock
from server.errors import Conflict, Forbidden, InvitationInvalid, NotFound, SignatureInvalid
from server.services._secrets import new_code, new_id, sha256
from server.services.authz_cache import AuthzCache
from server.services.notify import Notifier
from server.services.ratelimit import RateLimiter
from server.services.values import DeviceKeys, Principal
from server.wire.responses import DevicesChangedEvent
from storage.errors import DeviceLimitReached, InvitationUnusable, LinkCodeUnusable
from storage.protocols import Storage
from storage.records import Account, ConsentState, Device, Link, NewDevice, Role

__all__ = ["AccountService", "Contact", "CreatedAccount", "verify_device_keys"]


@dataclass(frozen=True, slots=True)
class CreatedAccount:
    account: Account
    device: Device
    linked_account_id: str | None


@dataclass(frozen=True, slots=True)
class Contact:
    account: Account
    label_ciphertext: bytes | None
    consent: ConsentState
    devices: list[Device]


def verify_device_keys(keys: DeviceKeys, field: str = "device") -> None:
    spk = keys.signed_prekey
    if not verify_prekey(keys.identity_key, spk.id, spk.public, spk.signature):
        raise SignatureInvalid(
            "The signed prekey's signature does not verify with the identity key.",
            {"field": f"{field}.signed_prekey.signature"},
        )


def _new_device(keys: DeviceKeys) -> NewDevice:
    return NewDevice(new_id(), keys.identity_key, keys.signed_prekey, keys.one_time_prekeys)


def therapist_and_client(a: Account | Principal, other_id: str) -> tuple[str, str] | None:
    """The (therapist, client) pair a link between ``a`` and ``other_id`` would have, by a's role."""
    if a.role is Role.THERAPIST:
        return a.account_id, other_id
    if a.role is Role.CLIENT:
        return other_id, a.account_id
    return None


class AccountService:
    def __init__(
        self,
        storage: Storage,
        notifier: Notifier,
        limiter: RateLimiter,
        clock: Clock,
        *,
        authz: AuthzCache,
        audit: AuditRecorder | None = None,
    ) -> None:
        self._audit = audit or NullAuditRecorder()
        self._storage = storage
        self._notifier = notifier
        self._limiter = limiter
        self._clock = clock
        self._authz = authz

    async def check_invitation(self, invitation_code: str, ip: str) -> Role | None:
        """The role an invitation code is for while it can still be redeemed, else None. Reveals nothing
        else (not who invited, not when it expires): the join page speaks before a passphrase is typed."""
        await self._limiter.check("invitation_check_per_ip", ip)
        inv = await self._storage.invitations.get_invitation_by_code_hash(sha256(invitation_code))
        usable = inv is not None and inv.used_at is None and inv.revoked_at is None
        if inv is None or not usable or inv.expires_at <= self._clock():
            return None
        return inv.role

    async def create_account(self, invitation_code: str, keys: DeviceKeys, ip: str) -> CreatedAccount:
        await self._limiter.check("redeem_per_ip", ip)
        verify_device_keys(keys)  # before the invitation is consumed: a bad device changes nothing
        device = _new_device(keys)
        account_id = new_id()
        try:
            # A new account and (for a client) its link: only pairs with the new account change.
            account, invitation = await self._authz.after_commit(
                self._storage.accounts.add_account_from_invitation(
                    code_hash=sha256(invitation_code), account_id=account_id, device=device, now=self._clock()
                ),
                lambda _: (account_id,),
            )
        except InvitationUnusable:
            raise InvitationInvalid("This invitation is unknown, already used, revoked or expired.") from None
        await self._audit.record(
            AuditEvent.ACCOUNT_REGISTERED,
            account_id=account.account_id,
            device_id=device.device_id,
            role=account.role.value,
        )
        linked = invitation.inviter_id if account.role is Role.CLIENT else None
        if linked is not None:
            await self._notifier.to_account(
                linked, "devices_changed", DevicesChangedEvent(account.account_id)
            )
        stored = Device(
            device.device_id,
            account.account_id,
            keys.identity_key,
            keys.signed_prekey,
            account.created_at,
            None,
        )
        return CreatedAccount(account, stored, linked)

    async def get_devices(self, caller: Principal) -> list[Device]:
        devices = await self._storage.devices.get_devices([caller.account_id])
        return [d for d in devices if d.active]

    async def create_link_code(self, caller: Principal) -> tuple[str, int]:
        await self._limiter.cap_new(
            "link_codes", caller.account_id, limits.MAX_OUTSTANDING_LINK_CODES, limits.LINK_CODE_TTL_SECONDS
        )
        code = new_code()
        expires_at = self._clock() + 1000 * limits.LINK_CODE_TTL_SECONDS
        await self._storage.devices.add_link_code(sha256(code), caller.account_id, expires_at)
        return code, expires_at

    async def add_device(self, link_code: str, keys: DeviceKeys, ip: str) -> tuple[Account, Device]:
        await self._limiter.check("redeem_per_ip", ip)
        verify_device_keys(keys)
        try:
            device = await self._authz.after_commit(
                self._storage.devices.add_device_with_link_code(
                    code_hash=sha256(link_code),
                    device=_new_device(keys),
                    max_devices=limits.MAX_DEVICES_PER_ACCOUNT,
                    now=self._clock(),
                ),
                lambda added: (added.account_id,),  # the link code names the account: known only now
            )
        except LinkCodeUnusable:
            raise InvitationInvalid("This link code is unknown, already used or expired.") from None
        except DeviceLimitReached:
            raise Conflict(
                f"This account already has {limits.MAX_DEVICES_PER_ACCOUNT} devices; revoke one first.",
                {"limit": limits.MAX_DEVICES_PER_ACCOUNT},
            ) from None
        account = await self._storage.accounts.get_account(device.account_id)
        assert account is not None  # the device row references it
        await self._audit.record(
            AuditEvent.DEVICE_ADDED, account_id=account.account_id, device_id=device.device_id
        )
        await self._announce_devices_changed(account.account_id)
        return account, device

    async def revoke_device(self, caller: Principal, device_id: str) -> None:
        device = await self._storage.devices.get_device(device_id)
        if device is None or device.account_id != caller.account_id or not device.active:
            raise NotFound("You have no active device with this id.")
        await self._authz.after_commit(
            self._storage.devices.revoke_device(device_id, self._clock()), lambda _: (caller.account_id,)
        )
        await self._audit.record(AuditEvent.DEVICE_REVOKED, account_id=caller.account_id, device_id=device_id)
        await self._notifier.disconnect_device(device_id)
        await self._announce_devices_changed(caller.account_id)

    async def _announce_devices_changed(self, account_id: str) -> None:
        event = DevicesChangedEvent(account_id)
        await self._notifier.to_account(account_id, "devices_changed", event)
        for link in await self._storage.links.get_links_of(account_id):
            other = link.client_id if link.therapist_id == account_id else link.therapist_id
            await self._notifier.to_account(other, "devices_changed", event)

    async def contacts(self, caller: Principal) -> list[Contact]:
        if caller.role is Role.ADMIN:
            raise Forbidden("Administrators have no contacts and cannot see anyone's.")
        links = await self._storage.links.get_links_of(caller.account_id)
        return list(await asyncio.gather(*(self._contact(caller, link) for link in links)))

    async def _contact(self, caller: Principal, link: Link) -> Contact:
        mine_is_therapist = link.therapist_id == caller.account_id
        other_id = link.client_id if mine_is_therapist else link.therapist_id
        account, consent, devices = await asyncio.gather(
            self._storage.accounts.get_account(other_id),
            self._storage.consent.get_consent_state(link.therapist_id, link.client_id),
            self._storage.devices.get_devices([other_id]),
        )
        assert account is not None  # links cascade with accounts
        label = link.label_ciphertext if mine_is_therapist else None  # the therapist's private label
        return Contact(account, label, consent, [d for d in devices if d.active])

    async def set_disabled(self, account_id: str, disabled: bool) -> None:
        """Operator action (CLI); a disabled account can neither log in nor be reached."""
        if not await self._authz.after_commit(
            self._storage.accounts.set_account_disabled(account_id, disabled), lambda _: (account_id,)
        ):
            raise NotFound("No account has this id.")
        if disabled:  # live connections end now; new logins and tokens are refused
            for device in await self._storage.devices.get_devices([account_id]):
                await self._notifier.disconnect_device(device.device_id)
