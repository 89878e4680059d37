"""MongoDB adapter of the audit log (``storage.audit.AuditStore``).

One document per entry with ``_id = seq``: the unique ``_id`` is what keeps ONE chain when appends race
(two nodes, two requests). An append reads the newest entry, seals the next one and inserts it; the loser of
a race gets a duplicate key and retries on top of the winner, so the chain can only grow, never fork.
The ``audit_head`` document (``_id: 1``) records the newest seq and hash next to the log, moved forward only
(a conditional update), to expose the deletion of the last entries. The adapter never updates or deletes
an entry; database users should be granted insert/find only on ``audit_log``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.audit import GENESIS_HASH, AuditHead, AuditRecord, NewAuditRecord, Seal
from storage.mongodb._engine import Engine

__all__ = ["MongoAuditStore"]

MAX_APPEND_ATTEMPTS = 100  # concurrent appenders; each attempt that loses a race lets another one win


def _record(d: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        seq=int(d["_id"]),
        at=int(d["at"]),
        event=d["event"],
        account_ref=d["account_ref"],
        actor_ref=d["actor_ref"],
        details=tuple(sorted((str(k), v) for k, v in d["details"].items())),
        prev_hash=d["prev_hash"],
        hash=d["hash"],
    )


class MongoAuditStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def append_entry(self, record: NewAuditRecord, seal: Seal) -> AuditRecord:
        log = self._engine["audit_log"]
        async with self._engine.op():
            for _ in range(MAX_APPEND_ATTEMPTS):
                newest = await log.find_one({}, sort=[("_id", DESCENDING)], projection={"hash": 1})
                seq, prev = (int(newest["_id"]) + 1, newest["hash"]) if newest else (1, GENESIS_HASH)
                digest = seal(seq, prev, record)
                try:
                    await log.insert_one(
                        {
                            "_id": seq,
                            "at": record.at,
                            "event": record.event,
                            "account_ref": record.account_ref,
                            "actor_ref": record.actor_ref,
                            "details": dict(record.details),
                            "prev_hash": prev,
                            "hash": digest,
                        }
                    )
                except DuplicateKeyError:
                    continue  # another node appended seq first: seal again on top of it
                await self._move_head(seq, digest)
                return AuditRecord(
                    seq,
                    record.at,
                    record.event,
                    record.account_ref,
                    record.actor_ref,
                    record.details,
                    prev,
                    digest,
                )
        raise RuntimeError(f"audit append lost {MAX_APPEND_ATTEMPTS} races in a row")

    async def _move_head(self, seq: int, digest: str) -> None:
        head = self._engine["audit_head"]
        result = await head.update_one(
            {"_id": 1, "seq": {"$lt": seq}}, {"$set": {"seq": seq, "hash": digest}}
        )
        if result.matched_count == 0:
            with contextlib.suppress(DuplicateKeyError):  # exists with a newer seq: leave it
                await head.insert_one({"_id": 1, "seq": seq, "hash": digest})

    async def get_entries(self, after_seq: int, limit: int) -> list[AuditRecord]:
        async with self._engine.op():
            cursor = self._engine["audit_log"].find({"_id": {"$gt": after_seq}})
            docs = await cursor.sort([("_id", 1)]).limit(limit).to_list(None)
        return [_record(d) for d in docs]

    async def get_entries_of(
        self, refs: tuple[str, ...], before_seq: int | None, limit: int
    ) -> list[AuditRecord]:
        if not refs:
            return []
        query: dict[str, Any] = {
            "$or": [{"account_ref": {"$in": list(refs)}}, {"actor_ref": {"$in": list(refs)}}]
        }
        if before_seq is not None:
            query["_id"] = {"$lt": before_seq}
        async with self._engine.op():
            cursor = self._engine["audit_log"].find(query)
            docs = await cursor.sort([("_id", DESCENDING)]).limit(limit).to_list(None)
        return [_record(d) for d in docs]

    async def get_head(self) -> AuditHead | None:
        async with self._engine.op():
            doc = await self._engine["audit_head"].find_one({"_id": 1})
        return None if doc is None else AuditHead(seq=int(doc["seq"]), hash=doc["hash"])

    async def count_entries_by_event(self) -> dict[str, int]:
        async with self._engine.op():
            cursor = await self._engine["audit_log"].aggregate(
                [{"$group": {"_id": "$event", "n": {"$sum": 1}}}]
            )
            docs = await cursor.to_list(None)
        return {str(d["_id"]): int(d["n"]) for d in docs}

    async def get_or_add_secret(self, name: str, candidate: bytes) -> bytes:
        secrets = self._engine["audit_secrets"]
        async with self._engine.op():
            # First writer wins: $setOnInsert never overwrites a stored secret.
            doc = await secrets.find_one_and_update(
                {"_id": name},
                {"$setOnInsert": {"value": Binary(candidate)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        return bytes(doc["value"])

    async def get_or_add_account_key(self, index: str, candidate: bytes) -> bytes:
        async with self._engine.op():
            # First writer wins, as for the secrets above.
            doc = await self._engine["audit_account_keys"].find_one_and_update(
                {"_id": index},
                {"$setOnInsert": {"sealed_key": Binary(candidate)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        return bytes(doc["sealed_key"])

    async def delete_account_key(self, index: str) -> bool:
        async with self._engine.op():
            result = await self._engine["audit_account_keys"].delete_one({"_id": index})
        return bool(result.deleted_count == 1)

    async def get_floor(self) -> AuditHead | None:
        async with self._engine.op():
            doc = await self._engine["audit_floor"].find_one({"_id": 1})
        return None if doc is None else AuditHead(seq=int(doc["seq"]), hash=doc["hash"])

    async def delete_entries_before(self, cutoff: int) -> int:
        log = self._engine["audit_log"]
        async with self._engine.op():
            kept = await log.find_one({"at": {"$gte": cutoff}}, sort=[("_id", ASCENDING)])
            if kept is not None:
                last = await log.find_one({"_id": {"$lt": kept["_id"]}}, sort=[("_id", DESCENDING)])
            else:
                last = await log.find_one({}, sort=[("_id", DESCENDING)])
            if last is None:
                return 0
            # The floor first (no transactions): a crash before the delete leaves entries that
            # verification skips and the next sweep deletes.
            await self._engine["audit_floor"].update_one(
                {"_id": 1}, {"$set": {"seq": int(last["_id"]), "hash": last["hash"]}}, upsert=True
            )
            result = await log.delete_many({"_id": {"$lte": last["_id"]}})
        return int(result.deleted_count)
