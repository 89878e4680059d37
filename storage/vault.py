"""The encrypted account vault: opaque ciphertext records of one account, and its recovery backup.

The server never sees what a record holds (notes, names, profiles: docs/PROTOCOL.md section 22): each record
is ciphertext under the account's vault key, which only the account's devices and its recovery key hold. The
store keeps, per record, the random id the client chose, a version number, the ciphertext, its size and times;
per account, a change position (``seq``) that grows with every write or delete, so devices learn "something
changed since position N" without learning what.

Writes use optimistic concurrency: ``put_vault_record`` names the version it expects (0 = create) and fails
with ``VaultConflict`` carrying the current version (0 = absent) if another device wrote first, so no write
is ever silently lost. ``delete_vault_record`` removes the row and its ciphertext; ``delete_vault_of`` removes
every record and the recovery backup of an account (account erasure).

The recovery backup (one per account) is the account's secrets sealed under a key derived from the recovery
key, stored under a lookup id derived from the same key and checked with a verifier (SHA-256 of a derived
authentication key): neither reveals the recovery key or the secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from storage.errors import StorageError

__all__ = [
    "RecoveryBackup",
    "VaultConflict",
    "VaultFull",
    "VaultIndexEntry",
    "VaultRecord",
    "VaultStore",
]


class VaultConflict(StorageError):
    """The record's version is not the one the writer expected: someone else wrote (or deleted) it first."""

    def __init__(self, current_version: int) -> None:
        super().__init__(f"the record is at version {current_version}")
        self.current_version = current_version  # 0: the record does not exist


class VaultFull(StorageError):
    """Creating a record would exceed the account's record limit."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"the vault holds {count} records (limit {limit})")
        self.count = count
        self.limit = limit


@dataclass(frozen=True, slots=True)
class VaultRecord:
    account_id: str
    record_id: str  # 32 hex characters, random, chosen by the client (bound into the ciphertext's AD)
    version: int  # 1 on creation, +1 per write
    seq: int  # the account's change position at this record's last write
    ciphertext: bytes
    created_at: int
    updated_at: int

    @property
    def size(self) -> int:
        return len(self.ciphertext)


@dataclass(frozen=True, slots=True)
class VaultIndexEntry:
    record_id: str
    version: int
    seq: int
    size: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class RecoveryBackup:
    account_id: str
    lookup_id: str  # 32 hex, derived from the recovery key: finds the backup without an account id
    verifier: bytes  # SHA-256 of the key's derived authentication key: checks a fetch, reveals nothing
    ciphertext: bytes  # the account's secrets sealed under the key's derived wrapping key
    created_at: int


class VaultStore(Protocol):
    async def put_vault_record(
        self,
        account_id: str,
        record_id: str,
        ciphertext: bytes,
        *,
        expected_version: int,
        max_records: int,
        now: int,
    ) -> VaultRecord:
        """Create (``expected_version`` 0) or replace a record, in one step. Raises VaultConflict when the
        stored version differs (nothing written), VaultFull when a creation exceeds ``max_records``."""
        ...

    async def get_vault_record(self, account_id: str, record_id: str) -> VaultRecord | None: ...

    async def get_vault_changes(self, account_id: str, *, after_seq: int, limit: int) -> list[VaultRecord]:
        """Records written after change position ``after_seq``, oldest change first, at most ``limit``."""
        ...

    async def get_vault_index(self, account_id: str) -> list[VaultIndexEntry]:
        """Every record's id, version and position (no ciphertext): a device finds deletions with it."""
        ...

    async def get_vault_position(self, account_id: str) -> int:
        """The account's change position: 0 before the first write, then raised by every write and delete."""
        ...

    async def delete_vault_record(self, account_id: str, record_id: str, *, expected_version: int) -> int:
        """Delete the record if it is at ``expected_version``; returns the new change position. Raises
        VaultConflict (current version, 0 if absent) otherwise."""
        ...

    async def delete_vault_of(self, account_id: str) -> int:
        """Delete every record, the position and the recovery backup of an account (erasure); returns
        the number of records deleted."""
        ...

    async def erase_account(self, account_id: str) -> int:
        """Account erasure (storage/erasure.py): the same as ``delete_vault_of``."""
        ...

    async def put_recovery_backup(self, backup: RecoveryBackup) -> None:
        """Store the account's backup, replacing its previous one (a new recovery key retires the old)."""
        ...

    async def get_recovery_backup(self, lookup_id: str) -> RecoveryBackup | None: ...

    async def get_recovery_backup_of(self, account_id: str) -> RecoveryBackup | None: ...
