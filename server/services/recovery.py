"""A device re-created from the recovery key, after the person lost every device (docs/PROTOCOL.md 22.5).

The restored device opened the recovery backup, so it holds the account key seed again, and it certifies its
own new device with it. The server adds the device only when both hold:

- the request proves knowledge of the recovery key (the authenticator matches the stored verifier; attempts
  are rate limited per IP and per lookup id, and a wrong key gets the same ``not_found`` as an unknown one);
- the device certificate verifies under the account key **already on record** for that backup's account,
  for exactly this device id and identity key, and the device id was never used.

No bearer token is involved at all: a stolen token can neither fetch the backup nor add a device, and an
operator who holds the database has the verifier (not the authenticator) and no account key to sign with.
"""

from __future__ import annotations

import secrets

from server import limits
from server.clock import Clock
from server.errors import Conflict, Forbidden
from server.services._secrets import sha256
from server.services.accounts import AccountService, new_device, verify_device_keys
from server.services.authz_cache import AuthzCache
from server.services.values import DeviceKeys
from server.services.vault import VaultService
from storage.errors import DeviceLimitReached, LinkCodeUnusable
from storage.protocols import Storage
from storage.records import Account, Device

__all__ = ["RecoveryService"]

PERMIT_SECONDS = 60  # the single-use permit lives only for the insert that follows it


class RecoveryService:
    def __init__(
        self,
        storage: Storage,
        vault: VaultService,
        accounts: AccountService,
        clock: Clock,
        *,
        authz: AuthzCache,
    ) -> None:
        self._storage = storage
        self._vault = vault
        self._accounts = accounts
        self._clock = clock
        self._authz = authz

    async def add_device(
        self, lookup_id: str, authenticator: bytes, keys: DeviceKeys, ip: str
    ) -> tuple[Account, Device]:
        # Rate limited and answered like a fetch: a wrong key learns nothing, not even whether it exists.
        backup = await self._vault.fetch_recovery(lookup_id, authenticator, ip)
        account = await self._storage.accounts.get_account(backup.account_id)
        if account is None or account.disabled:
            raise Forbidden("This account is disabled.")
        await self._accounts.require_unused_ids(None, keys.device_id)
        verify_device_keys(keys, account.account_id, account.account_key, self._clock())
        # The device limit and the insert are one transaction in the store, through the same single-use
        # permit approved linking uses; this permit is drawn here and never leaves the server.
        permit = sha256(secrets.token_bytes(32))
        now = self._clock()
        await self._storage.devices.add_link_code(permit, account.account_id, now + 1000 * PERMIT_SECONDS)
        try:
            device = await self._authz.after_commit(
                self._storage.devices.add_device_with_link_code(
                    code_hash=permit,
                    device=new_device(keys),
                    max_devices=limits.MAX_DEVICES_PER_ACCOUNT,
                    now=now,
                ),
                lambda added: (added.account_id,),
            )
        except LinkCodeUnusable:  # pragma: no cover - the permit was written just above
            raise Conflict("Try again.") from None
        except DeviceLimitReached:
            raise Conflict(
                f"This account already has {limits.MAX_DEVICES_PER_ACCOUNT} devices; revoke one first.",
                {"limit": limits.MAX_DEVICES_PER_ACCOUNT},
            ) from None
        await self._accounts.device_added(account, device)
        return account, device
