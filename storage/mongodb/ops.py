"""MongoDB adapter of ``storage.ops.OpsStore``: counts for operators, never rows about people."""

from __future__ import annotations

from pymongo import ASCENDING

from storage.mongodb._engine import Engine
from storage.ops import AccountSummary, Backlog, Population
from storage.records import Account, Role

__all__ = ["MongoOpsStore"]


class MongoOpsStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def get_backlog(self, now: int) -> Backlog:
        query = {"expires_at": {"$gt": now}}
        async with self._engine.op():
            mailbox = self._engine["mailbox"]
            count: int = await mailbox.count_documents(query)
            oldest = await mailbox.find_one(query, sort=[("sent_at", ASCENDING)], projection={"sent_at": 1})
        return Backlog(count, int(oldest["sent_at"]) if oldest else None)

    async def get_population(self, now: int) -> Population:
        active: dict[str, int] = {}
        disabled: dict[str, int] = {}
        pending: dict[str, int] = {}
        async with self._engine.op():
            accounts, invitations = self._engine["accounts"], self._engine["invitations"]
            for role in Role:
                active[role.value] = await accounts.count_documents({"role": role.value, "disabled": False})
                disabled[role.value] = await accounts.count_documents({"role": role.value, "disabled": True})
                pending[role.value] = await invitations.count_documents(
                    {"role": role.value, "used_at": None, "revoked_at": None, "expires_at": {"$gt": now}}
                )
            devices: int = await self._engine["devices"].count_documents({"revoked_at": None})
        return Population(active, disabled, devices, pending)

    async def get_accounts_by_role(self, roles: tuple[Role, ...], limit: int) -> list[AccountSummary]:
        if Role.CLIENT in roles:
            raise ValueError("client accounts are never listed to operators")
        out: list[AccountSummary] = []
        async with self._engine.op():
            cursor = self._engine["accounts"].find({"role": {"$in": [r.value for r in roles]}})
            cursor = cursor.sort([("created_at", ASCENDING), ("_id", ASCENDING)]).limit(limit)
            docs = await cursor.to_list(None)
            for d in docs:
                devices: int = await self._engine["devices"].count_documents(
                    {"account_id": d["_id"], "revoked_at": None}
                )
                out.append(AccountSummary(Account(d["_id"], Role(d["role"]), int(d["created_at"]),
                                                  bool(d["disabled"])), devices))
        return out

    async def count_sessions_by_state(self) -> dict[str, int]:
        return {}  # video sessions are stored by the signaling adapter of this backend, when it has one
