"""The records custodian: the practice's custodian public key, and the custodian copies of therapists' notes.

A practice may configure one X25519 public key (its private half stays offline: docs/OPERATIONS.md, "Records
custodian"). A therapist's device then seals each note about a client whose accepted terms disclose that key
a second time, to the custodian (docs/PROTOCOL.md section 24), and stores that **copy** here beside the vault
record: per (therapist account, record id), the record version it copies, the custodian key it was sealed to,
and the opaque ciphertext. The server can open none of it.

Copies are NOT erased with the therapist's account (they are the practice's record, kept for its legal duty:
``ERASE_ORDER`` does not name this store); they go when the therapist deletes the note while the account
exists, or when the practice purges a departed therapist's copies (``confidant custodian purge``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["CustodianCopy", "CustodianKey", "CustodianStore"]


@dataclass(frozen=True, slots=True)
class CustodianKey:
    public_key: bytes  # X25519, 32 bytes; the practice keeps the private half offline
    set_at: int


@dataclass(frozen=True, slots=True)
class CustodianCopy:
    account_id: str  # the therapist whose note this copies (kept after the therapist's erasure)
    record_id: str  # the vault record it copies (bound into the copy's AD)
    version: int  # the vault record's version it copies (bound into the AD)
    custodian_key: bytes  # the key it is sealed to: the offline key that opens it
    ciphertext: bytes
    written_at: int


class CustodianStore(Protocol):
    async def get_custodian_key(self) -> CustodianKey | None:
        """The configured key; None when the custodian is off (the default)."""
        ...

    async def set_custodian_key(self, key: CustodianKey | None) -> None:
        """Configure (replace) the key, or turn the custodian off (None). Copies already stored stay."""
        ...

    async def put_custodian_copy(self, copy: CustodianCopy) -> bool:
        """Store the copy unless one of a newer version of the record is stored (then False, nothing
        written): a late retry never replaces a newer copy."""
        ...

    async def get_custodian_copies(self, account_id: str) -> list[CustodianCopy]:
        """Every copy of a therapist's notes, by record id."""
        ...

    async def delete_custodian_copy(self, account_id: str, record_id: str) -> bool: ...

    async def delete_custodian_copies_of(self, account_id: str) -> int:
        """The practice's purge of a departed therapist's copies, once its legal duty ends."""
        ...
