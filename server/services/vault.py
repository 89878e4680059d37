"""The encrypted account vault: each account's opaque records and its recovery backup.

The server cannot read a record (docs/PROTOCOL.md section 22): it checks sizes, counts and versions, and
tells the account's devices that the vault moved (``vault_changed`` with the new position only). Rules:

- only the account's own devices read or write its vault; a record id is 32 hex chosen by the client;
- a write names the version it replaces (0 = create); another device's earlier write makes it ``conflict``
  (409) with ``details.current_version``, and nothing is written: the client keeps both versions;
- a delete names the version too and removes the ciphertext from the server;
- the recovery backup is set by a signed-in device and fetched anonymously (the person lost every device)
  with the lookup id and authenticator derived from the recovery key. An unknown lookup id and a wrong
  authenticator give the same ``not_found``; fetches are rate limited per IP and per lookup id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import msgspec

from crypto.primitives import constant_time_equal, sha256
from server import limits
from server.clock import Clock
from server.errors import AppError, Conflict, ErrorCode, NotFound, PayloadTooLarge
from server.services.notify import Notifier
from server.services.ratelimit import RateLimiter
from server.services.values import Principal
from storage.vault import RecoveryBackup, VaultConflict, VaultFull, VaultIndexEntry, VaultRecord, VaultStore

__all__ = ["RecoveryAccess", "VaultChanged", "VaultPage", "VaultService"]

log = logging.getLogger(__name__)

VERIFIER_BYTES = 32  # SHA-256 of the authenticator
AUTHENTICATOR_BYTES = 32  # derived from the recovery key (docs/PROTOCOL.md section 22.4)


class VaultChanged(msgspec.Struct, frozen=True):
    """Realtime ``vault_changed``: the account's new change position, nothing about what changed."""

    position: int


@dataclass(frozen=True, slots=True)
class VaultPage:
    position: int  # the account's position when the page was read
    records: list[VaultRecord]
    more: bool  # more changes follow: ask again after the last record's seq


@dataclass(frozen=True, slots=True)
class RecoveryAccess:
    account_id: str
    ciphertext: bytes
    created_at: int


def _conflict(exc: VaultConflict) -> AppError:
    return Conflict(
        "Another device changed this record first; fetch it and merge.",
        {"current_version": exc.current_version},
    )


class VaultService:
    def __init__(self, store: VaultStore, notifier: Notifier, limiter: RateLimiter, clock: Clock) -> None:
        self._store = store
        self._notifier = notifier
        self._limiter = limiter
        self._clock = clock

    async def put(
        self, caller: Principal, record_id: str, ciphertext: bytes, expected_version: int
    ) -> VaultRecord:
        if len(ciphertext) > limits.MAX_VAULT_RECORD_BYTES:
            raise PayloadTooLarge(
                f"A vault record holds at most {limits.MAX_VAULT_RECORD_BYTES} bytes.",
                {"limit": limits.MAX_VAULT_RECORD_BYTES},
            )
        await self._limiter.check("vault_write_per_device", caller.device_id)
        try:
            record = await self._store.put_vault_record(
                caller.account_id,
                record_id,
                ciphertext,
                expected_version=expected_version,
                max_records=limits.MAX_VAULT_RECORDS,
                now=self._clock(),
            )
        except VaultConflict as exc:
            raise _conflict(exc) from None
        except VaultFull as exc:
            raise AppError(
                "Your vault is full; delete records you no longer need.",
                {"records": exc.count, "limit": exc.limit},
                code=ErrorCode.QUOTA_EXCEEDED,
            ) from None
        await self._wake(caller.account_id, record.seq)
        return record

    async def get(self, caller: Principal, record_id: str) -> VaultRecord:
        record = await self._store.get_vault_record(caller.account_id, record_id)
        if record is None:
            raise NotFound("No such vault record.")
        return record

    async def changes(self, caller: Principal, after: int, limit: int) -> VaultPage:
        position = await self._store.get_vault_position(caller.account_id)
        records = await self._store.get_vault_changes(caller.account_id, after_seq=after, limit=limit + 1)
        return VaultPage(position, records[:limit], len(records) > limit)

    async def index(self, caller: Principal) -> tuple[int, list[VaultIndexEntry]]:
        position = await self._store.get_vault_position(caller.account_id)
        return position, await self._store.get_vault_index(caller.account_id)

    async def delete(self, caller: Principal, record_id: str, expected_version: int) -> int:
        await self._limiter.check("vault_write_per_device", caller.device_id)
        try:
            position = await self._store.delete_vault_record(
                caller.account_id, record_id, expected_version=expected_version
            )
        except VaultConflict as exc:
            if exc.current_version == 0:
                raise NotFound("No such vault record.") from None
            raise _conflict(exc) from None
        await self._wake(caller.account_id, position)
        return position

    async def set_recovery(
        self, caller: Principal, lookup_id: str, verifier: bytes, ciphertext: bytes
    ) -> int:
        if len(ciphertext) > limits.MAX_RECOVERY_BACKUP_BYTES:
            raise PayloadTooLarge(
                f"A recovery backup holds at most {limits.MAX_RECOVERY_BACKUP_BYTES} bytes.",
                {"limit": limits.MAX_RECOVERY_BACKUP_BYTES},
            )
        now = self._clock()
        await self._store.put_recovery_backup(
            RecoveryBackup(caller.account_id, lookup_id, verifier, ciphertext, now)
        )
        return now

    async def recovery_status(self, caller: Principal) -> int | None:
        """When the account's current recovery key was made; None if it has none."""
        backup = await self._store.get_recovery_backup_of(caller.account_id)
        return None if backup is None else backup.created_at

    async def fetch_recovery(self, lookup_id: str, authenticator: bytes, ip: str) -> RecoveryAccess:
        await self._limiter.check("recovery_per_ip", ip)
        await self._limiter.check("recovery_per_lookup", lookup_id)
        backup = await self._store.get_recovery_backup(lookup_id)
        # One answer for "no such backup" and "wrong key": a guess learns nothing about which it was.
        expected = backup.verifier if backup is not None else bytes(VERIFIER_BYTES)
        if not constant_time_equal(sha256(authenticator), expected) or backup is None:
            raise NotFound("No recovery backup matches this recovery key.")
        return RecoveryAccess(backup.account_id, backup.ciphertext, backup.created_at)

    async def _wake(self, account_id: str, position: int) -> None:
        try:
            await self._notifier.to_account(account_id, "vault_changed", VaultChanged(position))
        except Exception:
            # The write is committed; a device that missed the wake-up catches up on its next sync.
            log.warning("vault wake-up not delivered")
