"""MongoDB side of erasure (storage/erasure.py): what each store deletes, and the job collection.

Without transactions each step is a sequence of ``delete_many`` / ``update_many`` filtered on the account,
so a crash between two of them leaves a state the next run finishes; a run over nothing deletes nothing.
The account's device ids are read first in the steps that need them, while the devices still exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import ASCENDING

from storage.erasure import ErasureJob
from storage.mongodb._engine import Engine

__all__ = ["MongoErasureStore", "erase"]


async def _device_ids(engine: Engine, account_id: str) -> list[str]:
    docs = await engine["devices"].find({"account_id": account_id}, projection={"_id": 1}).to_list(None)
    return [str(d["_id"]) for d in docs]


async def _delete(engine: Engine, collection: str, query: dict[str, Any]) -> int:
    result = await engine[collection].delete_many(query)
    return int(result.deleted_count)


async def _mailbox(engine: Engine, a: str) -> int:
    devices = await _device_ids(engine, a)
    return (await _delete(engine, "sends", {"from_device": {"$in": devices}})
            + await _delete(engine, "mailbox",
                            {"$or": [{"device_id": {"$in": devices}}, {"from_account": a}]}))


async def _prekeys(engine: Engine, a: str) -> int:
    return await _delete(engine, "one_time_prekeys", {"device_id": {"$in": await _device_ids(engine, a)}})


async def _challenges(engine: Engine, a: str) -> int:
    return await _delete(engine, "challenges", {"device_id": {"$in": await _device_ids(engine, a)}})


async def _tokens(engine: Engine, a: str) -> int:
    return await _delete(engine, "tokens", {"account_id": a})


async def _devices(engine: Engine, a: str) -> int:
    devices = await _device_ids(engine, a)
    # Stream counters are keyed by device id: the last trace of the device after its mailbox.
    return (await _delete(engine, "counters", {"_id": {"$in": devices}})
            + await _delete(engine, "link_codes", {"account_id": a})
            + await _delete(engine, "devices", {"account_id": a}))


async def _consent(engine: Engine, a: str) -> int:
    return (await _delete(engine, "consents", {"$or": [{"therapist_id": a}, {"client_id": a}]})
            + await _delete(engine, "terms", {"therapist_id": a}))


async def _appointments(engine: Engine, a: str) -> int:
    hosted = await engine["appointments"].find({"therapist_id": a}, projection={"_id": 1}).to_list(None)
    sessions = [d["_id"] for d in hosted]
    count = await _delete(engine, "appointment_attendance",
                          {"$or": [{"account_id": a}, {"session_id": {"$in": sessions}}]})
    pulled = await engine["appointments"].update_many({"participants": a}, {"$pull": {"participants": a}})
    return count + int(pulled.modified_count) + await _delete(engine, "appointments", {"therapist_id": a})


async def _links(engine: Engine, a: str) -> int:
    return await _delete(engine, "links", {"$or": [{"therapist_id": a}, {"client_id": a}]})


async def _invitations(engine: Engine, a: str) -> int:
    return await _delete(engine, "invitations", {"$or": [{"inviter_id": a}, {"account_id": a}]})


async def _accounts(engine: Engine, a: str) -> int:
    return await _delete(engine, "accounts", {"_id": a})


_STEPS: dict[str, Callable[[Engine, str], Awaitable[int]]] = {
    "mailbox": _mailbox,
    "prekeys": _prekeys,
    "challenges": _challenges,
    "tokens": _tokens,
    "devices": _devices,
    "consent": _consent,
    "appointments": _appointments,
    "links": _links,
    "invitations": _invitations,
    "accounts": _accounts,
}


async def erase(engine: Engine, store: str, account_id: str) -> int:
    async with engine.op():
        return await _STEPS[store](engine, account_id)


class MongoErasureStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def add_erasure_job(self, job: ErasureJob) -> bool:
        async with self._engine.op():
            result = await self._engine["erasure_jobs"].update_one(
                {"_id": job.account_id},
                {"$setOnInsert": {"requested_at": job.requested_at, "by_admin": job.by_admin}},
                upsert=True,
            )
        return result.upserted_id is not None

    async def get_erasure_jobs(self) -> list[ErasureJob]:
        async with self._engine.op():
            cursor = self._engine["erasure_jobs"].find({})
            docs = await cursor.sort([("requested_at", ASCENDING), ("_id", ASCENDING)]).to_list(None)
        return [ErasureJob(str(d["_id"]), int(d["requested_at"]), bool(d["by_admin"])) for d in docs]

    async def delete_erasure_job(self, account_id: str) -> bool:
        async with self._engine.op():
            result = await self._engine["erasure_jobs"].delete_one({"_id": account_id})
        return bool(result.deleted_count == 1)
