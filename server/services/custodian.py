"""The records custodian: the practice's custodian key and the custodian copies of therapists' notes.

Off by default. An administrator configures the practice's X25519 custodian public key (the private half
never reaches the server: docs/OPERATIONS.md, "Records custodian"). A therapist's device that saves a note
about a client whose accepted terms disclose that key also stores a copy sealed to it (docs/PROTOCOL.md
section 24); the server checks only what it can: the custodian is on, the copy names the configured key, and
it copies the current version of one of the caller's own vault records. It cannot open a copy.

Copies outlive the therapist's account (storage/custodian.py): the operator exports them for the offline key
with ``confidant custodian export`` and purges them with ``confidant custodian purge`` (server/cli.py).
"""

from __future__ import annotations

from server import limits
from server.audit import AuditEvent, AuditRecorder
from server.clock import Clock
from server.errors import Conflict, Forbidden, PayloadTooLarge
from server.services.admin import require_admin
from server.services.values import Principal
from storage.custodian import CustodianCopy, CustodianKey
from storage.protocols import Storage
from storage.records import Role

__all__ = ["CustodianService"]


class CustodianService:
    def __init__(self, storage: Storage, audit: AuditRecorder, clock: Clock) -> None:
        self._storage = storage
        self._audit = audit
        self._clock = clock

    async def get_key(self, caller: Principal) -> CustodianKey | None:
        if caller.role is Role.CLIENT:  # a client reads the key in the terms it accepts, not here
            raise Forbidden("Only therapists and administrators read the custodian settings.")
        return await self._storage.custodian.get_custodian_key()

    async def set_key(self, caller: Principal, public_key: bytes) -> CustodianKey:
        require_admin(caller)
        key = CustodianKey(public_key, self._clock())
        await self._storage.custodian.set_custodian_key(key)
        await self._audit.record(AuditEvent.ADMIN_CUSTODIAN_SET, account_id=caller.account_id,
                                 actor_id=caller.account_id)
        return key

    async def turn_off(self, caller: Principal) -> None:
        require_admin(caller)
        await self._storage.custodian.set_custodian_key(None)
        await self._audit.record(AuditEvent.ADMIN_CUSTODIAN_OFF, account_id=caller.account_id,
                                 actor_id=caller.account_id)

    async def put_copy(
        self, caller: Principal, record_id: str, version: int, custodian_key: bytes, ciphertext: bytes
    ) -> bool:
        """True when stored; False when a copy of a newer version is already there (a late retry)."""
        if caller.role is not Role.THERAPIST:
            raise Forbidden("Only therapists' notes have custodian copies.")
        if len(ciphertext) > limits.MAX_CUSTODIAN_COPY_BYTES:
            raise PayloadTooLarge(
                f"A custodian copy holds at most {limits.MAX_CUSTODIAN_COPY_BYTES} bytes.",
                {"limit": limits.MAX_CUSTODIAN_COPY_BYTES},
            )
        configured = await self._storage.custodian.get_custodian_key()
        if configured is None:
            raise Conflict("The practice has no records custodian; nothing was stored.",
                           {"reason": "custodian_off"})
        if configured.public_key != custodian_key:
            raise Conflict("This copy is sealed to another key than the practice's custodian key.",
                           {"reason": "custodian_changed"})
        record = await self._storage.vault.get_vault_record(caller.account_id, record_id)
        if record is None or record.version != version:
            current = 0 if record is None else record.version
            raise Conflict("A copy must be of the current version of one of your vault records.",
                           {"reason": "record_version", "current_version": current})
        copy = CustodianCopy(caller.account_id, record_id, version, custodian_key, ciphertext, self._clock())
        return await self._storage.custodian.put_custodian_copy(copy)

    async def delete_copy(self, caller: Principal, record_id: str) -> bool:
        """The therapist deleted the note: its copy goes too (while the account exists)."""
        if caller.role is not Role.THERAPIST:
            raise Forbidden("Only therapists' notes have custodian copies.")
        return await self._storage.custodian.delete_custodian_copy(caller.account_id, record_id)

    # -- operator (CLI): no principal, the operator runs the server --

    async def copies_of(self, account_id: str) -> list[CustodianCopy]:
        return await self._storage.custodian.get_custodian_copies(account_id)

    async def purge(self, account_id: str) -> int:
        return await self._storage.custodian.delete_custodian_copies_of(account_id)
