"""``storage.custodian.CustodianStore`` for the embedded backend (tables ``custodian_key`` and
``custodian_copies``: schema version 9)."""

from __future__ import annotations

import sqlite3

from storage.custodian import CustodianCopy, CustodianKey
from storage.sqlite._engine import Engine

__all__ = ["SqliteCustodianStore"]

_COLUMNS = "account_id, record_id, version, custodian_key, ciphertext, written_at"


class SqliteCustodianStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def get_custodian_key(self) -> CustodianKey | None:

        def read(conn: sqlite3.Connection) -> CustodianKey | None:
            row = conn.execute("SELECT public_key, set_at FROM custodian_key WHERE id = 1").fetchone()
            return None if row is None else CustodianKey(bytes(row[0]), int(row[1]))

        return await self._engine.read(read)

    async def set_custodian_key(self, key: CustodianKey | None) -> None:

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM custodian_key")
            if key is not None:
                conn.execute(
                    "INSERT INTO custodian_key (id, public_key, set_at) VALUES (1, ?, ?)",
                    (key.public_key, key.set_at),
                )

        await self._engine.write(write)

    async def put_custodian_copy(self, copy: CustodianCopy) -> bool:
        c = copy

        def write(conn: sqlite3.Connection) -> bool:
            # One statement: the version check and the write cannot interleave with another writer.
            cur = conn.execute(
                f"INSERT INTO custodian_copies ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(account_id, record_id) DO UPDATE SET version = excluded.version, "
                "custodian_key = excluded.custodian_key, ciphertext = excluded.ciphertext, "
                "written_at = excluded.written_at WHERE excluded.version >= custodian_copies.version",
                (c.account_id, c.record_id, c.version, c.custodian_key, c.ciphertext, c.written_at),
            )
            return cur.rowcount == 1

        return await self._engine.write(write)

    async def get_custodian_copies(self, account_id: str) -> list[CustodianCopy]:

        def read(conn: sqlite3.Connection) -> list[CustodianCopy]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM custodian_copies WHERE account_id = ? ORDER BY record_id",
                (account_id,),
            ).fetchall()
            return [
                CustodianCopy(a, r, int(v), bytes(k), bytes(c), int(w)) for a, r, v, k, c, w in rows
            ]

        return await self._engine.read(read)

    async def delete_custodian_copy(self, account_id: str, record_id: str) -> bool:

        def write(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "DELETE FROM custodian_copies WHERE account_id = ? AND record_id = ?",
                    (account_id, record_id),
                ).rowcount
                == 1
            )

        return await self._engine.write(write)

    async def delete_custodian_copies_of(self, account_id: str) -> int:

        def write(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute("DELETE FROM custodian_copies WHERE account_id = ?", (account_id,)).rowcount
            )

        return await self._engine.write(write)
