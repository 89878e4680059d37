"""The audit log store: an append-only, hash-chained sequence of security events.

The store knows nothing of the hash format: ``append_entry`` hands the next sequence number and the
previous entry's hash to a ``seal`` function supplied by the caller (``server.audit``), INSIDE the
transaction that inserts the entry. That is what keeps one single chain when appends race (two nodes,
two requests): the read of the head and the insert are one serialised write, and the sequence number
is a primary key, so a second writer can never fork the chain, only wait or fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["GENESIS_HASH", "AuditHead", "AuditRecord", "AuditStore", "NewAuditRecord", "Seal"]

GENESIS_HASH = "0" * 64  # the "previous hash" of entry 1


@dataclass(frozen=True, slots=True)
class NewAuditRecord:
    """An event as the service reports it. No content, ever: ids are pseudonyms, details are
    short identifiers or numbers (a role, a terms version, a pseudonymous device reference)."""

    at: int
    event: str
    account_ref: str  # pseudonym of the account the entry belongs to ("" for none)
    actor_ref: str  # pseudonym of the account that acted, when not the owner ("" otherwise)
    details: tuple[tuple[str, str | int], ...]  # sorted (key, value) pairs


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int  # 1, 2, 3 ... without gaps: a gap is a deleted entry
    at: int
    event: str
    account_ref: str
    actor_ref: str
    details: tuple[tuple[str, str | int], ...]
    prev_hash: str  # hex SHA-256 of entry seq - 1 (GENESIS_HASH for seq 1)
    hash: str  # hex SHA-256 over this entry's canonical encoding, prev_hash included


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The newest entry as recorded next to the log: catches the deletion of the last entries."""

    seq: int
    hash: str


Seal = Callable[[int, str, NewAuditRecord], str]
"""(seq, prev_hash, record) -> hash of the entry; called inside the append transaction."""


class AuditStore(Protocol):
    async def append_entry(self, record: NewAuditRecord, seal: Seal) -> AuditRecord:
        """Append after the current head, in one transaction with the head update."""
        ...

    async def get_entries(self, after_seq: int, limit: int) -> list[AuditRecord]:
        """Entries with seq > after_seq in order, at most ``limit`` (for verification)."""
        ...

    async def get_entries_of(
        self, refs: tuple[str, ...], before_seq: int | None, limit: int
    ) -> list[AuditRecord]:
        """Newest first: entries whose account_ref or actor_ref is one of ``refs``."""
        ...

    async def get_head(self) -> AuditHead | None: ...

    async def count_entries_by_event(self) -> dict[str, int]: ...

    async def get_or_add_secret(self, name: str, candidate: bytes) -> bytes:
        """The stored secret ``name``; stores ``candidate`` first if there is none (first writer wins)."""
        ...

    async def get_or_add_account_key(self, index: str, candidate: bytes) -> bytes:
        """The sealed pseudonym key of one account (``index`` is a keyed hash of its id, never the id);
        stores ``candidate`` first if there is none (first writer wins)."""
        ...

    async def delete_account_key(self, index: str) -> bool:
        """Crypto-shredding: without this key the account's entries name no one. True if it existed."""
        ...

    async def get_floor(self) -> AuditHead | None:
        """The newest entry deleted by retention (None: none deleted): verification starts after it."""
        ...

    async def delete_entries_before(self, cutoff: int) -> int:
        """Retention: delete the oldest entries, in order, up to the last one before the first entry with
        ``at >= cutoff``, recording the last deleted one as the floor first; the number deleted."""
        ...
