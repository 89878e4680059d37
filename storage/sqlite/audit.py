"""SQLite adapter of the audit log (``storage.audit.AuditStore``).

The audit tables are versioned by this module, apart from the relay schema, so that the tamper-evident
format evolves on its own schedule. Appends go through the engine's single writer: the head read, the insert
and the head update run in one transaction, so concurrent appends form one chain (``seq`` is the primary key:
a second chain would need a duplicate key). Triggers refuse UPDATE and DELETE through the application; someone
with the file can drop them, which is exactly what the hash chain then exposes.
"""

from __future__ import annotations

import json
import sqlite3

from storage.audit import GENESIS_HASH, AuditHead, AuditRecord, NewAuditRecord, Seal
from storage.sqlite._engine import Engine

__all__ = ["AUDIT_SCHEMA", "SqliteAuditStore", "ensure_audit_schema"]

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,                      -- 1, 2, 3 ...: a gap is a deleted entry
    at INTEGER NOT NULL,
    event TEXT NOT NULL,                          -- a kind from server.audit.AuditEvent, never free text
    account_ref TEXT NOT NULL,                    -- keyed pseudonym of the owner: survives erasure unlinkable
    actor_ref TEXT NOT NULL,                      -- keyed pseudonym of who acted ('' = the owner)
    details TEXT NOT NULL,                        -- canonical JSON of short ids / numbers; no content
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_account ON audit_log(account_ref, seq);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit_log(actor_ref, seq);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),        -- one row: the newest seq and hash
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_secrets (
    name TEXT PRIMARY KEY,                        -- e.g. the pseudonym key; generated once
    value BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

_COLUMNS = "seq, at, event, account_ref, actor_ref, details, prev_hash, hash"


def ensure_audit_schema(conn: sqlite3.Connection) -> None:
    """Create the audit tables if missing (idempotent), on a connection outside any transaction."""
    conn.execute("BEGIN IMMEDIATE")
    _create_schema(conn)
    conn.execute("COMMIT")


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in _statements(AUDIT_SCHEMA):
        conn.execute(statement)


def _statements(script: str) -> list[str]:
    # sqlite3.complete_statement knows that a trigger's body (BEGIN ... END) holds inner ';'.
    out: list[str] = []
    buf = ""
    for line in script.splitlines():
        buf += line.split("--", 1)[0] + "\n"
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return out


def _details_json(details: tuple[tuple[str, str | int], ...]) -> str:
    return json.dumps(dict(details), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _row(row: tuple[int, int, str, str, str, str, str, str]) -> AuditRecord:
    seq, at, event, account_ref, actor_ref, details, prev_hash, hash_ = row
    parsed = json.loads(details)
    items: tuple[tuple[str, str | int], ...] = ()
    if isinstance(parsed, dict):
        items = tuple(sorted(parsed.items()))
    return AuditRecord(
        seq=seq,
        at=at,
        event=event,
        account_ref=account_ref,
        actor_ref=actor_ref,
        details=items,
        prev_hash=prev_hash,
        hash=hash_,
    )


class SqliteAuditStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._schema_ready = False

    async def _ready(self) -> None:
        # The relay's engine is already started when the composition root builds this store: the tables
        # are created by the first operation, in one write of the engine's own writer thread.
        if not self._schema_ready:
            await self._engine.write(_create_schema)
            self._schema_ready = True

    async def append_entry(self, record: NewAuditRecord, seal: Seal) -> AuditRecord:
        await self._ready()

        def write(conn: sqlite3.Connection) -> AuditRecord:
            head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
            digest = seal(seq, prev, record)
            conn.execute(
                f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    record.at,
                    record.event,
                    record.account_ref,
                    record.actor_ref,
                    _details_json(record.details),
                    prev,
                    digest,
                ),
            )
            conn.execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (seq, digest),
            )
            return AuditRecord(
                seq=seq,
                at=record.at,
                event=record.event,
                account_ref=record.account_ref,
                actor_ref=record.actor_ref,
                details=record.details,
                prev_hash=prev,
                hash=digest,
            )

        return await self._engine.write(write)

    async def get_entries(self, after_seq: int, limit: int) -> list[AuditRecord]:
        await self._ready()

        def read(conn: sqlite3.Connection) -> list[AuditRecord]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
            ).fetchall()
            return [_row(r) for r in rows]

        return await self._engine.read(read)

    async def get_entries_of(
        self, refs: tuple[str, ...], before_seq: int | None, limit: int
    ) -> list[AuditRecord]:
        await self._ready()
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
        await self._ready()

        def read(conn: sqlite3.Connection) -> AuditHead | None:
            row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            return AuditHead(seq=row[0], hash=row[1]) if row else None

        return await self._engine.read(read)

    async def count_entries_by_event(self) -> dict[str, int]:
        await self._ready()

        def read(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute("SELECT event, COUNT(*) FROM audit_log GROUP BY event").fetchall()
            return {str(event): int(count) for event, count in rows}

        return await self._engine.read(read)

    async def get_or_add_secret(self, name: str, candidate: bytes) -> bytes:
        await self._ready()

        def write(conn: sqlite3.Connection) -> bytes:
            conn.execute("INSERT OR IGNORE INTO audit_secrets (name, value) VALUES (?, ?)", (name, candidate))
            (value,) = conn.execute("SELECT value FROM audit_secrets WHERE name = ?", (name,)).fetchone()
            return bytes(value)

        return await self._engine.write(write)
