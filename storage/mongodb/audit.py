"""MongoDB adapter of the audit log (``storage.audit.AuditStore``).

``audit_log`` documents use the sequence number as ``_id``, so the chain cannot fork: two nodes that read the
same last entry both try to insert ``_id = n + 1`` and exactly one succeeds; the other re-reads and retries.
The last entry of the log (not the head document) is the source of truth for appends, so a crash between the
insert and the head update never blocks the next append; the head document (``audit_meta``, ``_id: "head"``)
only moves forward and exists to expose the deletion of the newest entries.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from storage.audit import GENESIS_HASH, AuditHead, AuditRecord, NewAuditRecord, Seal
from storage.mongodb._engine import Engine

__all__ = ["MongoAuditStore"]

MAX_APPEND_ATTEMPTS = 64  # optimistic claims of one sequence number; only pathological contention needs more


def _record(d: dict[str, Any]) -> AuditRecord:
    details = d.get("details") or {}
    return AuditRecord(seq=int(d["_id"]), at=int(d["at"]), event=str(d["event"]),
                       account_ref=str(d["account_ref"]), actor_ref=str(d["actor_ref"]),
                       details=tuple(sorted(details.items())),
                       prev_hash=str(d["prev_hash"]), hash=str(d["hash"]))


class MongoAuditStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._indexed = False

    async def _ready(self) -> None:
        if not self._indexed:
            await self._engine["audit_log"].create_index([("account_ref", ASCENDING), ("_id", ASCENDING)])
            await self._engine["audit_log"].create_index([("actor_ref", ASCENDING), ("_id", ASCENDING)])
            self._indexed = True

    async def append_entry(self, record: NewAuditRecord, seal: Seal) -> AuditRecord:
        async with self._engine.op():
            await self._ready()
            log = self._engine["audit_log"]
            for _ in range(MAX_APPEND_ATTEMPTS):
                last = await log.find_one({}, sort=[("_id", DESCENDING)], projection={"hash": 1})
                seq, prev = (int(last["_id"]) + 1, str(last["hash"])) if last else (1, GENESIS_HASH)
                digest = seal(seq, prev, record)
                try:
                    await log.insert_one({
                        "_id": seq, "at": record.at, "event": record.event, "account_ref": record.account_ref,
                        "actor_ref": record.actor_ref, "details": dict(record.details), "prev_hash": prev,
                        "hash": digest,
                    })
                except DuplicateKeyError:
                    continue  # another node appended seq first: chain after it
                meta = self._engine["audit_meta"]
                moved = await meta.update_one({"_id": "head", "seq": {"$lt": seq}},
                                              {"$set": {"seq": seq, "hash": digest}})
                if moved.matched_count == 0:
                    with contextlib.suppress(DuplicateKeyError):  # a later entry already moved the head
                        await meta.insert_one({"_id": "head", "seq": seq, "hash": digest})
                return AuditRecord(seq, record.at, record.event, record.account_ref, record.actor_ref,
                                   record.details, prev, digest)
        raise RuntimeError("could not append to the audit log: too much contention")

    async def get_entries(self, after_seq: int, limit: int) -> list[AuditRecord]:
        async with self._engine.op():
            cursor = self._engine["audit_log"].find({"_id": {"$gt": after_seq}})
            return [_record(d) for d in await cursor.sort([("_id", ASCENDING)]).limit(limit).to_list(None)]

    async def get_entries_of(
        self, refs: tuple[str, ...], before_seq: int | None, limit: int
    ) -> list[AuditRecord]:
        if not refs:
            return []
        mine = list(refs)
        query: dict[str, Any] = {"$or": [{"account_ref": {"$in": mine}}, {"actor_ref": {"$in": mine}}]}
        if before_seq is not None:
            query["_id"] = {"$lt": before_seq}
        async with self._engine.op():
            cursor = self._engine["audit_log"].find(query)
            return [_record(d) for d in await cursor.sort([("_id", DESCENDING)]).limit(limit).to_list(None)]

    async def get_head(self) -> AuditHead | None:
        async with self._engine.op():
            doc = await self._engine["audit_meta"].find_one({"_id": "head"})
        return AuditHead(int(doc["seq"]), str(doc["hash"])) if doc else None

    async def count_entries_by_event(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        async with self._engine.op():
            cursor = self._engine["audit_log"].find({}, projection={"event": 1})
            for doc in await cursor.to_list(None):
                counts[str(doc["event"])] = counts.get(str(doc["event"]), 0) + 1
        return counts

    async def get_or_add_secret(self, name: str, candidate: bytes) -> bytes:
        async with self._engine.op():
            secrets = self._engine["audit_secrets"]
            await secrets.update_one({"_id": name}, {"$setOnInsert": {"value": candidate}}, upsert=True)
            doc = await secrets.find_one({"_id": name})
        assert doc is not None
        return bytes(doc["value"])
