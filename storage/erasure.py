"""Erasure of one account across every store (docs/STORAGE.md "Erasure").

Each store that holds data of an account implements ``Erasable.erase_account``: delete everything of that
account it holds, idempotently (a second call, or a call after a crash midway, deletes what is left and
returns 0 when nothing was). ``ERASE_ORDER`` names those stores in the order the erasure service walks
them: dependents first (envelopes and keys of the account's devices, while the devices still say which they
are), the account row last. A store added by another feature (blobs, the vault) plugs in by implementing
the method and appending its name here; ``tests/storage/test_erasure.py`` checks every adapter.

The job itself is recorded first (``ErasureStore.add_erasure_job``), so that a crash midway is finished at
the next start; the job row is the only place the account id remains until the erasure completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["ERASE_ORDER", "Erasable", "ErasureJob", "ErasureStore"]


class Erasable(Protocol):
    async def erase_account(self, account_id: str) -> int:
        """Delete every record of this account this store holds; the number of records deleted."""
        ...


@dataclass(frozen=True, slots=True)
class ErasureJob:
    account_id: str
    requested_at: int
    by_admin: bool  # requested by an administrator rather than by the person


class ErasureStore(Protocol):
    async def add_erasure_job(self, job: ErasureJob) -> bool:
        """Record the job (False if one is already recorded for this account: the erasure is under way)."""
        ...

    async def get_erasure_jobs(self) -> list[ErasureJob]:
        """Jobs not yet completed, oldest first (resumed at start)."""
        ...

    async def delete_erasure_job(self, account_id: str) -> bool: ...


# Dependents first; "accounts" last. The audit log is not here: its entries stay, and the erasure service
# destroys the account's pseudonym key instead (server/audit.py, crypto-shredding).
ERASE_ORDER: tuple[str, ...] = (
    "vault",
    "blobs",
    "mailbox",
    "prekeys",
    "challenges",
    "tokens",
    "devices",
    "consent",
    "appointments",
    "links",
    "invitations",
    "accounts",
)
