"""SQLite adapter of ``storage.ops.OpsStore``: read-only aggregate queries on the relay schema."""

from __future__ import annotations

import sqlite3

from storage.ops import AccountSummary, Backlog, Population
from storage.records import Account, Role
from storage.sqlite._engine import Engine

__all__ = ["SqliteOpsStore"]


class SqliteOpsStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def get_backlog(self, now: int) -> Backlog:
        def read(conn: sqlite3.Connection) -> Backlog:
            count, oldest = conn.execute(
                "SELECT COUNT(*), MIN(sent_at) FROM mailbox WHERE expires_at > ?", (now,)
            ).fetchone()
            return Backlog(int(count), int(oldest) if oldest is not None else None)

        return await self._engine.read(read)

    async def get_population(self, now: int) -> Population:
        def read(conn: sqlite3.Connection) -> Population:
            active: dict[str, int] = {r.value: 0 for r in Role}
            disabled: dict[str, int] = {r.value: 0 for r in Role}
            for role, is_disabled, count in conn.execute(
                "SELECT role, disabled, COUNT(*) FROM accounts GROUP BY role, disabled"
            ):
                (disabled if is_disabled else active)[str(role)] = int(count)
            (devices,) = conn.execute("SELECT COUNT(*) FROM devices WHERE revoked_at IS NULL").fetchone()
            pending: dict[str, int] = {r.value: 0 for r in Role}
            for role, count in conn.execute(
                "SELECT role, COUNT(*) FROM invitations WHERE used_at IS NULL AND revoked_at IS NULL "
                "AND expires_at > ? GROUP BY role",
                (now,),
            ):
                pending[str(role)] = int(count)
            return Population(active, disabled, int(devices), pending)

        return await self._engine.read(read)

    async def get_accounts_by_role(self, roles: tuple[Role, ...], limit: int) -> list[AccountSummary]:
        if Role.CLIENT in roles:
            raise ValueError("client accounts are never listed to operators")
        marks = ",".join("?" * len(roles))

        def read(conn: sqlite3.Connection) -> list[AccountSummary]:
            rows = conn.execute(
                "SELECT a.account_id, a.role, a.created_at, a.disabled, "
                "(SELECT COUNT(*) FROM devices d WHERE d.account_id = a.account_id AND d.revoked_at IS NULL) "
                f"FROM accounts a WHERE a.role IN ({marks}) ORDER BY a.created_at, a.account_id LIMIT ?",
                (*(r.value for r in roles), limit),
            ).fetchall()
            return [
                AccountSummary(Account(str(a), Role(role), int(created), bool(dis)), int(devices))
                for a, role, created, dis, devices in rows
            ]

        return await self._engine.read(read)

    async def count_sessions_by_state(self) -> dict[str, int]:
        # The durable appointment row says scheduled / ended / cancelled; a scheduled one whose first
        # admission happened (started_at) is in progress. Whether a waiting room is open lives in the
        # broker only, so "open" is not counted here.
        def read(conn: sqlite3.Connection) -> dict[str, int]:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'appointments'"
            ).fetchone()
            if exists is None:
                return {}
            rows = conn.execute(
                "SELECT CASE WHEN state = 'scheduled' AND started_at IS NOT NULL THEN 'in_progress' "
                "ELSE state END, COUNT(*) FROM appointments GROUP BY 1"
            ).fetchall()
            return {str(state): int(count) for state, count in rows}

        return await self._engine.read(read)
