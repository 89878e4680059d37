"""Accounts and devices: redeeming invitations, revocation, contacts. Linking lives in device_links.py.

Protocol version 2: every device is registered with a certificate signed by its account key, verified here
(``verify_device_keys``); a device without one is never stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from server import limits
from server._verify import is_valid_public_key, verify_certificate, verify_prekey
from server.audit import AuditEvent, AuditRecorder, NullAuditRecorder
from server.clock import Clock
from server.errors import Conflict, Forbidden, InvalidField, InvitationInvalid, NotFound, SignatureInvalid
from server.services._secrets import sha256
from server.services.authz_cache import AuthzCache
from server.services.notify import Notifier
from server.services.ratelimit import RateLimiter
from server.services.values import DeviceKeys, Principal
from server.wire.responses import DevicesChangedEvent
from storage.errors import InvitationUnusable
from storage.protocols import Storage
from storage.records import Account, ConsentState, Device, Link, NewDevice, Role

__all__ = ["AccountService", "Contact", "CreatedAccount", "new_device", "verify_device_keys"]


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


def verify_device_keys(
    keys: DeviceKeys, account_id: str, account_key: bytes, now: int, field: str = "device"
) -> None:
    """The signed prekey and the certificate (docs/PROTOCOL.md section 16) of a device being registered."""
    if not is_valid_public_key(keys.identity_key, ed25519=True):
        raise InvalidField(
            "The identity key is not a valid Ed25519 public key.", {"field": f"{field}.identity_key"}
        )
    spk = keys.signed_prekey
    if not verify_prekey(keys.identity_key, spk.id, spk.public, spk.signature):
        raise SignatureInvalid(
            "The signed prekey's signature does not verify with the identity key.",
            {"field": f"{field}.signed_prekey.signature"},
        )
    if keys.certificate_created_at > now + limits.CERTIFICATE_CLOCK_SKEW_MS:
        raise InvalidField(
            "The certificate is dated in the future.", {"field": f"{field}.certificate.created_at"}
        )
    if not verify_certificate(account_key, account_id, keys.device_id, keys.identity_key, keys.certificate):
        raise SignatureInvalid(
            "The device certificate does not verify under the account key.",
            {"field": f"{field}.certificate.signature"},
        )


def new_device(keys: DeviceKeys) -> NewDevice:
    return NewDevice(
        keys.device_id, keys.identity_key, keys.signed_prekey, keys.one_time_prekeys, keys.certificate
    )


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

    async def create_account(
        self, invitation_code: str, account_id: str, account_key: bytes, keys: DeviceKeys, ip: str
    ) -> CreatedAccount:
        await self._limiter.check("redeem_per_ip", ip)
        if not is_valid_public_key(account_key, ed25519=True):
            raise InvalidField(
                "The account key is not a valid Ed25519 public key.", {"field": "account.account_key"}
            )
        # Before the invitation is consumed: a bad device changes nothing.
        verify_device_keys(keys, account_id, account_key, self._clock())
        await self.require_unused_ids(account_id, keys.device_id)
        device = new_device(keys)
        try:
            # A new account and (for a client) its link: only pairs with the new account change.
            account, invitation = await self._authz.after_commit(
                self._storage.accounts.add_account_from_invitation(
                    code_hash=sha256(invitation_code),
                    account_id=account_id,
                    device=device,
                    now=self._clock(),
                    account_key=account_key,
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
            keys.certificate,
        )
        return CreatedAccount(account, stored, linked)

    async def require_unused_ids(self, account_id: str | None, device_id: str) -> None:
        """Client-drawn ids (the certificate binds them) must be new; random ids collide only on reuse."""
        if account_id is not None and await self._storage.accounts.get_account(account_id) is not None:
            raise Conflict(
                "This account id is already in use; draw a new one.", {"field": "account.account_id"}
            )
        if await self._storage.devices.get_device(device_id) is not None:
            raise Conflict("This device id is already in use; draw a new one.", {"field": "device.device_id"})

    async def get_devices(self, caller: Principal) -> list[Device]:
        devices = await self._storage.devices.get_devices([caller.account_id])
        return [d for d in devices if d.active]

    async def get_me(self, caller: Principal) -> tuple[Account, list[Device]]:
        account = await self._storage.accounts.get_account(caller.account_id)
        assert account is not None  # the caller's token references it
        return account, await self.get_devices(caller)

    async def device_added(self, account: Account, device: Device) -> None:
        """After a linked device was stored: audit it and tell the account and its contacts."""
        await self._audit.record(
            AuditEvent.DEVICE_ADDED, account_id=account.account_id, device_id=device.device_id
        )
        await self.announce_devices_changed(account.account_id)

    async def revoke_device(self, caller: Principal, device_id: str) -> None:
        """From any device of the account, the calling one too ("remove this account from this browser")."""
        device = await self._storage.devices.get_device(device_id)
        if device is None or device.account_id != caller.account_id or not device.active:
            raise NotFound("You have no active device with this id.")
        await self._authz.after_commit(
            self._storage.devices.revoke_device(device_id, self._clock()), lambda _: (caller.account_id,)
        )
        await self._audit.record(AuditEvent.DEVICE_REVOKED, account_id=caller.account_id, device_id=device_id)
        await self._notifier.disconnect_device(device_id)
        await self.announce_devices_changed(caller.account_id)

    async def announce_devices_changed(self, account_id: str) -> None:
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
