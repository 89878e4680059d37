"""SQLite adapter of the audit log (``storage.audit.AuditStore``).

The tables are created by the versioned migrations (storage/sqlite/schema.py, version 3). Appends go through
the engine's single writer: the head read, the insert and the head update run in one transaction, so
concurrent appends form one chain (``seq`` is the primary key: a second chain would need a duplicate key).
Triggers refuse UPDATE and DELETE through the application; someone with the file can drop them, which is
exactly what the hash chain then exposes.
"""

from __future__ import annotations

import json
import sqlite3

from storage.audit import GENESIS_HASH, AuditHead, AuditRecord, NewAuditRecord, Seal
from storage.sqlite._engine import Engine

__all__ = ["SqliteAuditStore"]

_COLUMNS = "seq, at, event, account_ref, actor_ref, details, prev_hash, hash"


def _details_json(details: tuple[tuple[str, str | int], ...]) -> str:
    return json.dumps(dict(details), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _row(row: tuple[int, int, str, str, str, str, str, str]) -> AuditRecord:
    seq, at, event, account_ref, actor_ref, details, prev_hash, hash_ = row
    parsed = json.loads(details)
    items: tuple[tuple[str, str | int], ...] = ()
    if isinstance(parsed, dict):
        items = tuple(sorted(parsed.items()))
    return AuditRecord(seq=seq, at=at, event=event, account_ref=account_ref, actor_ref=actor_ref,
                       details=items, prev_hash=prev_hash, hash=hash_)


class SqliteAuditStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def append_entry(self, record: NewAuditRecord, seal: Seal) -> AuditRecord:

        def write(conn: sqlite3.Connection) -> AuditRecord:
            head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
            digest = seal(seq, prev, record)
            conn.execute(
                f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, record.at, record.event, record.account_ref, record.actor_ref,
                 _details_json(record.details), prev, digest),
            )
            conn.execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (seq, digest),
            )
            return AuditRecord(seq=seq, at=record.at, event=record.event,
                               account_ref=record.account_ref, actor_ref=record.actor_ref,
                               details=record.details, prev_hash=prev, hash=digest)

        return await self._engine.write(write)

    async def get_entries(self, after_seq: int, limit: int) -> list[AuditRecord]:

        def read(conn: sqlite3.Connection) -> list[AuditRecord]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
            ).fetchall()
            return [_row(r) for r in rows]

        return await self._engine.read(read)

    async def get_entries_of(
        self, refs: tuple[str, ...], before_seq: int | None, limit: int
    ) -> list[AuditRecord]:
        if not refs:
            return []
        marks = ",".join("?" * len(refs))
        bound = before_seq if before_seq is not None else 2**62

        def read(conn: sqlite3.Connection) -> list[AuditRecord]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log WHERE seq < ? AND "
                f"(account_ref IN ({marks}) OR actor_ref IN ({marks})) ORDER BY seq DESC LIMIT ?",
                (bound, *refs, *refs, limit),
            ).fetchall()
            return [_row(r) for r in rows]

        return await self._engine.read(read)

    async def get_head(self) -> AuditHead | None:

        def read(conn: sqlite3.Connection) -> AuditHead | None:
            row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            return AuditHead(seq=row[0], hash=row[1]) if row else None

        return await self._engine.read(read)

    async def count_entries_by_event(self) -> dict[str, int]:

        def read(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute("SELECT event, COUNT(*) FROM audit_log GROUP BY event").fetchall()
            return {str(event): int(count) for event, count in rows}

        return await self._engine.read(read)

    async def get_or_add_secret(self, name: str, candidate: bytes) -> bytes:

        def write(conn: sqlite3.Connection) -> bytes:
            conn.execute("INSERT OR IGNORE INTO audit_secrets (name, value) VALUES (?, ?)", (name, candidate))
            (value,) = conn.execute("SELECT value FROM audit_secrets WHERE name = ?", (name,)).fetchone()
            return bytes(value)

        return await self._engine.write(write)

    async def get_or_add_account_key(self, index: str, candidate: bytes) -> bytes:

        def write(conn: sqlite3.Connection) -> bytes:
            conn.execute("INSERT OR IGNORE INTO audit_account_keys (key_index, sealed_key) VALUES (?, ?)",
                         (index, candidate))
            (value,) = conn.execute(
                "SELECT sealed_key FROM audit_account_keys WHERE key_index = ?", (index,)
            ).fetchone()
            return bytes(value)

        return await self._engine.write(write)

    async def delete_account_key(self, index: str) -> bool:

        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM audit_account_keys WHERE key_index = ?", (index,)).rowcount == 1

        return await self._engine.write(write)

    async def get_floor(self) -> AuditHead | None:

        def read(conn: sqlite3.Connection) -> AuditHead | None:
            row = conn.execute("SELECT seq, hash FROM audit_floor WHERE id = 1").fetchone()
            return AuditHead(seq=row[0], hash=row[1]) if row else None

        return await self._engine.read(read)

    async def delete_entries_before(self, cutoff: int) -> int:

        def write(conn: sqlite3.Connection) -> int:
            (first_kept,) = conn.execute("SELECT MIN(seq) FROM audit_log WHERE at >= ?", (cutoff,)).fetchone()
            (newest,) = conn.execute("SELECT MAX(seq) FROM audit_log").fetchone()
            last = (first_kept - 1) if first_kept is not None else newest
            if last is None or last < 1:
                return 0
            row = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (last,)).fetchone()
            if row is None:  # already below the floor
                return 0
            # The floor first: the trigger then allows deleting up to it, and nothing above.
            conn.execute(
                "INSERT INTO audit_floor (id, seq, hash) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (last, row[0]),
            )
            return conn.execute("DELETE FROM audit_log WHERE seq <= ?", (last,)).rowcount

        return await self._engine.write(write)
