"""MongoDB adapter of ``storage.ops.OpsStore``: read-only aggregate counts, never who talks to whom."""

from __future__ import annotations

from typing import Any

from storage.mongodb._engine import Engine
from storage.ops import AccountSummary, Backlog, Population
from storage.records import Account, Role

__all__ = ["MongoOpsStore"]


class MongoOpsStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def _aggregate(self, collection: str, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cursor = await self._engine[collection].aggregate(pipeline)
        docs: list[dict[str, Any]] = await cursor.to_list(None)
        return docs

    async def get_backlog(self, now: int) -> Backlog:
        async with self._engine.op():
            docs = await self._aggregate(
                "mailbox",
                [
                    {"$match": {"expires_at": {"$gt": now}}},
                    {"$group": {"_id": None, "n": {"$sum": 1}, "oldest": {"$min": "$sent_at"}}},
                ],
            )
        if not docs or not docs[0]["n"]:
            return Backlog(0, None)
        oldest = docs[0].get("oldest")
        return Backlog(int(docs[0]["n"]), None if oldest is None else int(oldest))

    async def get_population(self, now: int) -> Population:
        active: dict[str, int] = {r.value: 0 for r in Role}
        disabled: dict[str, int] = {r.value: 0 for r in Role}
        pending: dict[str, int] = {r.value: 0 for r in Role}
        async with self._engine.op():
            for role in Role:
                active[role.value] = await self._engine["accounts"].count_documents(
                    {"role": role.value, "disabled": False}
                )
                disabled[role.value] = await self._engine["accounts"].count_documents(
                    {"role": role.value, "disabled": True}
                )
                pending[role.value] = await self._engine["invitations"].count_documents(
                    {"role": role.value, "used_at": None, "revoked_at": None, "expires_at": {"$gt": now}}
                )
            devices = await self._engine["devices"].count_documents({"revoked_at": None})
        return Population(active, disabled, int(devices), pending)

    async def get_accounts_by_role(self, roles: tuple[Role, ...], limit: int) -> list[AccountSummary]:
        if Role.CLIENT in roles:
            raise ValueError("client accounts are never listed to operators")
        out = []
        async with self._engine.op():
            cursor = self._engine["accounts"].find({"role": {"$in": [r.value for r in roles]}})
            docs = await cursor.sort([("created_at", 1), ("_id", 1)]).limit(limit).to_list(None)
            for d in docs:
                devices = await self._engine["devices"].count_documents(
                    {"account_id": d["_id"], "revoked_at": None}
                )
                account = Account(d["_id"], Role(d["role"]), int(d["created_at"]), bool(d["disabled"]))
                out.append(AccountSummary(account, int(devices)))
        return out

    async def count_sessions_by_state(self) -> dict[str, int]:
        # As on SQLite: a scheduled appointment whose first admission happened is in progress.
        counts: dict[str, int] = {}
        async with self._engine.op():
            cursor = self._engine["appointments"].find({}, projection={"state": 1, "started_at": 1})
            for d in await cursor.to_list(None):
                state = "in_progress" if d["state"] == "scheduled" and d.get("started_at") else d["state"]
                counts[state] = counts.get(state, 0) + 1
        return counts
