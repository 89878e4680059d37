"""MongoDB adapter of ``storage.vault.VaultStore``.

Collections: ``vault_records`` (``_id = "<account>:<record>"``), ``vault_heads`` (``_id = account``: ``seq``,
the change position, and ``count``, the records held) and ``recovery_backups`` (``_id = account``, unique
``lookup_id``). A write is one ``engine.run`` step: one transaction on a replica set. Without transactions the
steps are ordered so that constraints close the races: a creation first takes a slot with ONE conditional
``$inc`` that only matches below the limit, then inserts under the unique ``_id`` (a duplicate gives the slot
back and is a conflict); an update is ONE conditional ``update_one`` on the expected version. A crash between
the two steps of a creation leaves ``count`` one too high (a slot lost until erasure), never a lost write.
Without transactions two positions may commit out of order; devices reconcile with the index (docs/API.md).
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.mongodb._engine import Engine, Session
from storage.vault import RecoveryBackup, VaultConflict, VaultFull, VaultIndexEntry, VaultRecord

__all__ = ["MongoVaultStore"]


def _key(account_id: str, record_id: str) -> str:
    return f"{account_id}:{record_id}"


def _record(d: dict[str, Any]) -> VaultRecord:
    return VaultRecord(
        account_id=d["account_id"],
        record_id=d["record_id"],
        version=int(d["version"]),
        seq=int(d["seq"]),
        ciphertext=bytes(d["ciphertext"]),
        created_at=int(d["created_at"]),
        updated_at=int(d["updated_at"]),
    )


def _backup(d: dict[str, Any]) -> RecoveryBackup:
    return RecoveryBackup(
        account_id=d["_id"],
        lookup_id=d["lookup_id"],
        verifier=bytes(d["verifier"]),
        ciphertext=bytes(d["ciphertext"]),
        created_at=int(d["created_at"]),
    )


class MongoVaultStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def _current_version(self, account_id: str, record_id: str, session: Session) -> int:
        doc = await self._engine["vault_records"].find_one(
            {"_id": _key(account_id, record_id)}, {"version": 1}, session=session
        )
        return 0 if doc is None else int(doc["version"])

    async def _bump(self, account_id: str, session: Session, *, count: int = 0) -> int:
        doc = await self._engine["vault_heads"].find_one_and_update(
            {"_id": account_id},
            {"$inc": {"seq": 1, "count": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return int(doc["seq"])

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
        heads = self._engine["vault_heads"]
        records = self._engine["vault_records"]
        key = _key(account_id, record_id)

        async def create(session: Session) -> VaultRecord:
            if await self._current_version(account_id, record_id, session):
                raise VaultConflict(await self._current_version(account_id, record_id, session))
            try:
                # Matches only below the limit; on a full vault the upsert collides with the existing _id.
                head = await heads.find_one_and_update(
                    {"_id": account_id, "count": {"$lt": max_records}},
                    {"$inc": {"seq": 1, "count": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                    session=session,
                )
            except DuplicateKeyError:
                full = await heads.find_one({"_id": account_id}, session=session)
                raise VaultFull(int(full["count"]) if full else max_records, max_records) from None
            doc = {
                "_id": key,
                "account_id": account_id,
                "record_id": record_id,
                "version": 1,
                "seq": int(head["seq"]),
                "ciphertext": ciphertext,
                "created_at": now,
                "updated_at": now,
            }
            try:
                await records.insert_one(doc, session=session)
            except DuplicateKeyError:
                await heads.update_one({"_id": account_id}, {"$inc": {"count": -1}}, session=session)
                raise VaultConflict(await self._current_version(account_id, record_id, session)) from None
            return _record(doc)

        async def update(session: Session) -> VaultRecord:
            seq = await self._bump(account_id, session)
            doc = await records.find_one_and_update(
                {"_id": key, "version": expected_version},
                {"$set": {"ciphertext": ciphertext, "seq": seq, "updated_at": now}, "$inc": {"version": 1}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if doc is None:
                raise VaultConflict(await self._current_version(account_id, record_id, session))
            return _record(doc)

        return await self._engine.run(create if expected_version == 0 else update)

    async def get_vault_record(self, account_id: str, record_id: str) -> VaultRecord | None:
        async with self._engine.op():
            doc = await self._engine["vault_records"].find_one({"_id": _key(account_id, record_id)})
        return None if doc is None else _record(doc)

    async def get_vault_changes(self, account_id: str, *, after_seq: int, limit: int) -> list[VaultRecord]:
        async with self._engine.op():
            cursor = self._engine["vault_records"].find({"account_id": account_id, "seq": {"$gt": after_seq}})
            docs = await cursor.sort([("seq", ASCENDING)]).limit(limit).to_list(None)
        return [_record(d) for d in docs]

    async def get_vault_index(self, account_id: str) -> list[VaultIndexEntry]:
        async with self._engine.op():
            cursor = self._engine["vault_records"].find({"account_id": account_id})
            docs = await cursor.sort([("seq", ASCENDING)]).to_list(None)
        return [
            VaultIndexEntry(
                d["record_id"], int(d["version"]), int(d["seq"]), len(d["ciphertext"]), int(d["updated_at"])
            )
            for d in docs
        ]

    async def get_vault_position(self, account_id: str) -> int:
        async with self._engine.op():
            doc = await self._engine["vault_heads"].find_one({"_id": account_id})
        return 0 if doc is None else int(doc["seq"])

    async def delete_vault_record(self, account_id: str, record_id: str, *, expected_version: int) -> int:
        records = self._engine["vault_records"]

        async def step(session: Session) -> int:
            result = await records.delete_one(
                {"_id": _key(account_id, record_id), "version": expected_version}, session=session
            )
            if result.deleted_count != 1:
                raise VaultConflict(await self._current_version(account_id, record_id, session))
            return await self._bump(account_id, session, count=-1)

        return await self._engine.run(step)

    async def delete_vault_of(self, account_id: str) -> int:

        async def step(session: Session) -> int:
            result = await self._engine["vault_records"].delete_many(
                {"account_id": account_id}, session=session
            )
            await self._engine["vault_heads"].delete_one({"_id": account_id}, session=session)
            await self._engine["recovery_backups"].delete_one({"_id": account_id}, session=session)
            return int(result.deleted_count)

        return await self._engine.run(step)

    async def erase_account(self, account_id: str) -> int:
        return await self.delete_vault_of(account_id)

    async def put_recovery_backup(self, backup: RecoveryBackup) -> None:
        b = backup
        async with self._engine.op():
            await self._engine["recovery_backups"].replace_one(
                {"_id": b.account_id},
                {
                    "_id": b.account_id,
                    "lookup_id": b.lookup_id,
                    "verifier": b.verifier,
                    "ciphertext": b.ciphertext,
                    "created_at": b.created_at,
                },
                upsert=True,
            )

    async def get_recovery_backup(self, lookup_id: str) -> RecoveryBackup | None:
        async with self._engine.op():
            doc = await self._engine["recovery_backups"].find_one({"lookup_id": lookup_id})
        return None if doc is None else _backup(doc)

    async def get_recovery_backup_of(self, account_id: str) -> RecoveryBackup | None:
        async with self._engine.op():
            doc = await self._engine["recovery_backups"].find_one({"_id": account_id})
        return None if doc is None else _backup(doc)
