"""MongoDB adapter of ``storage.custodian.CustodianStore``.

Collections: ``custodian_key`` (one document, ``_id = "custodian"``) and ``custodian_copies``
(``_id = "<account>:<record>"``). A copy is written by ONE conditional ``update_one`` (upsert) that only
matches an older or equal version: a late retry of an older copy finds no match, and its upsert hits the
unique ``_id`` (DuplicateKeyError), so it never replaces a newer copy.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from storage.custodian import CustodianCopy, CustodianKey
from storage.mongodb._engine import Engine

__all__ = ["MongoCustodianStore"]

_KEY_ID = "custodian"


def _copy(d: dict[str, Any]) -> CustodianCopy:
    return CustodianCopy(
        account_id=d["account_id"],
        record_id=d["record_id"],
        version=int(d["version"]),
        custodian_key=bytes(d["custodian_key"]),
        ciphertext=bytes(d["ciphertext"]),
        written_at=int(d["written_at"]),
    )


class MongoCustodianStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def get_custodian_key(self) -> CustodianKey | None:
        async with self._engine.op():
            doc = await self._engine["custodian_key"].find_one({"_id": _KEY_ID})
        return None if doc is None else CustodianKey(bytes(doc["public_key"]), int(doc["set_at"]))

    async def set_custodian_key(self, key: CustodianKey | None) -> None:
        async with self._engine.op():
            if key is None:
                await self._engine["custodian_key"].delete_one({"_id": _KEY_ID})
            else:
                await self._engine["custodian_key"].replace_one(
                    {"_id": _KEY_ID},
                    {"_id": _KEY_ID, "public_key": key.public_key, "set_at": key.set_at},
                    upsert=True,
                )

    async def put_custodian_copy(self, copy: CustodianCopy) -> bool:
        c = copy
        fields = {
            "account_id": c.account_id,
            "record_id": c.record_id,
            "version": c.version,
            "custodian_key": c.custodian_key,
            "ciphertext": c.ciphertext,
            "written_at": c.written_at,
        }
        try:
            async with self._engine.op():
                await self._engine["custodian_copies"].update_one(
                    {"_id": f"{c.account_id}:{c.record_id}", "version": {"$lte": c.version}},
                    {"$set": fields},
                    upsert=True,
                )
        except DuplicateKeyError:
            return False  # a newer copy is stored
        return True

    async def get_custodian_copies(self, account_id: str) -> list[CustodianCopy]:
        async with self._engine.op():
            cursor = self._engine["custodian_copies"].find({"account_id": account_id})
            docs = await cursor.sort("record_id", ASCENDING).to_list(None)
        return [_copy(d) for d in docs]

    async def delete_custodian_copy(self, account_id: str, record_id: str) -> bool:
        async with self._engine.op():
            result = await self._engine["custodian_copies"].delete_one({"_id": f"{account_id}:{record_id}"})
        return int(result.deleted_count) == 1

    async def delete_custodian_copies_of(self, account_id: str) -> int:
        async with self._engine.op():
            result = await self._engine["custodian_copies"].delete_many({"account_id": account_id})
        return int(result.deleted_count)
