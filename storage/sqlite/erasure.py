"""SQLite side of erasure (storage/erasure.py): the statements each store runs, and the job table.

Each store's ``erase_account`` runs its statements in one savepoint of the group commit (all or nothing);
every statement is a plain ``DELETE ... WHERE`` of the account, so running it again deletes nothing more.
Foreign keys would cascade most of it from the account row, but each store erases explicitly so that the
order (and a crash between two stores) is the same on every adapter.
"""

from __future__ import annotations

import sqlite3

from storage.erasure import ErasureJob
from storage.sqlite._engine import Engine

__all__ = ["SqliteErasureStore", "erase"]

_DEVICES = "(SELECT device_id FROM devices WHERE account_id = :a)"
_HOSTED = "(SELECT session_id FROM appointments WHERE therapist_id = :a)"

STATEMENTS: dict[str, tuple[str, ...]] = {
    "mailbox": (
        f"DELETE FROM sends WHERE from_device IN {_DEVICES}",
        f"DELETE FROM mailbox WHERE device_id IN {_DEVICES} OR from_account = :a",
    ),
    "prekeys": (f"DELETE FROM one_time_prekeys WHERE device_id IN {_DEVICES}",),
    "challenges": (f"DELETE FROM challenges WHERE device_id IN {_DEVICES}",),
    "tokens": ("DELETE FROM tokens WHERE account_id = :a",),
    "devices": ("DELETE FROM link_codes WHERE account_id = :a", "DELETE FROM devices WHERE account_id = :a"),
    "consent": (
        "DELETE FROM consents WHERE therapist_id = :a OR client_id = :a",
        "DELETE FROM terms WHERE therapist_id = :a",
    ),
    "appointments": (
        f"DELETE FROM appointment_attendance WHERE account_id = :a OR session_id IN {_HOSTED}",
        f"DELETE FROM appointment_participants WHERE account_id = :a OR session_id IN {_HOSTED}",
        "DELETE FROM appointments WHERE therapist_id = :a",
    ),
    "links": ("DELETE FROM links WHERE therapist_id = :a OR client_id = :a",),
    "invitations": ("DELETE FROM invitations WHERE inviter_id = :a OR account_id = :a",),
    "accounts": ("DELETE FROM accounts WHERE account_id = :a",),
}


async def erase(engine: Engine, store: str, account_id: str) -> int:
    statements = STATEMENTS[store]

    def write(conn: sqlite3.Connection) -> int:
        return sum(conn.execute(sql, {"a": account_id}).rowcount for sql in statements)

    return await engine.write(write)


class SqliteErasureStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def add_erasure_job(self, job: ErasureJob) -> bool:

        def write(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO erasure_jobs (account_id, requested_at, by_admin) VALUES (?, ?, ?)",
                (job.account_id, job.requested_at, int(job.by_admin)),
            )
            return cursor.rowcount == 1

        return await self._engine.write(write)

    async def get_erasure_jobs(self) -> list[ErasureJob]:

        def read(conn: sqlite3.Connection) -> list[ErasureJob]:
            rows = conn.execute(
                "SELECT account_id, requested_at, by_admin FROM erasure_jobs "
                "ORDER BY requested_at, account_id"
            ).fetchall()
            return [ErasureJob(r[0], int(r[1]), bool(r[2])) for r in rows]

        return await self._engine.read(read)

    async def delete_erasure_job(self, account_id: str) -> bool:

        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM erasure_jobs WHERE account_id = ?", (account_id,)).rowcount == 1

        return await self._engine.write(write)
