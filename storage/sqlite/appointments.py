"""SQLite adapter of ``storage.appointments.AppointmentStore``.

The appointment tables are versioned by this module (like the audit log), apart from the relay schema:
``CREATE ... IF NOT EXISTS`` run once through the engine's writer before the first use, so an existing
database gains them on upgrade without touching ``PRAGMA user_version`` of the relay schema.
"""

from __future__ import annotations

import asyncio
import sqlite3

from storage.appointments import Appointment, Attendance, DurableState, Reschedule
from storage.sqlite._engine import Engine

__all__ = ["APPOINTMENTS_SCHEMA", "SqliteAppointmentStore"]

APPOINTMENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS appointments (
    session_id TEXT PRIMARY KEY,
    therapist_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,  -- the host
    starts_at INTEGER NOT NULL,                   -- the scheduled window: joins are refused outside it
    ends_at INTEGER NOT NULL,
    max_participants INTEGER NOT NULL,            -- clients admitted at once
    state TEXT NOT NULL CHECK (state IN ('scheduled', 'ended', 'cancelled')),  -- live states: broker
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    started_at INTEGER,                           -- first admission: the session really took place
    ended_at INTEGER
);
CREATE INDEX IF NOT EXISTS appointments_by_therapist ON appointments(therapist_id, ends_at);
CREATE TABLE IF NOT EXISTS appointment_participants (
    session_id TEXT NOT NULL REFERENCES appointments(session_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,  -- an invited client
    PRIMARY KEY (session_id, account_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS appointment_participants_by_account ON appointment_participants(account_id);
CREATE TABLE IF NOT EXISTS appointment_attendance (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES appointments(session_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    joined_at INTEGER NOT NULL,                   -- join/leave times: the only record of the call itself
    left_at INTEGER
);
CREATE INDEX IF NOT EXISTS appointment_attendance_by_session
    ON appointment_attendance(session_id, account_id);
"""

_COLUMNS = (
    "session_id, therapist_id, starts_at, ends_at, max_participants, state, created_at, updated_at, "
    "started_at, ended_at"
)


def _statements(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _participants(conn: sqlite3.Connection, session_id: str) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT account_id FROM appointment_participants WHERE session_id = ? ORDER BY account_id",
        (session_id,),
    ).fetchall()
    return tuple(r[0] for r in rows)


def _appointment(conn: sqlite3.Connection, row: tuple[object, ...]) -> Appointment:
    sid, therapist, starts, ends, maxp, state, created, updated, started, ended = row
    assert isinstance(sid, str)
    return Appointment(
        sid,
        str(therapist),
        _participants(conn, sid),
        int(str(starts)),
        int(str(ends)),
        int(str(maxp)),
        str(state),
        int(str(created)),
        int(str(updated)),
        None if started is None else int(str(started)),
        None if ended is None else int(str(ended)),
    )


class SqliteAppointmentStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ready = False
        self._lock = asyncio.Lock()

    async def _ensure_schema(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return

            def create(conn: sqlite3.Connection) -> None:
                for statement in _statements(APPOINTMENTS_SCHEMA):
                    conn.execute(statement)

            await self._engine.write(create)
            self._ready = True

    async def add_appointment(self, appointment: Appointment) -> None:
        await self._ensure_schema()
        a = appointment

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO appointments ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    a.session_id,
                    a.therapist_id,
                    a.starts_at,
                    a.ends_at,
                    a.max_participants,
                    a.state,
                    a.created_at,
                    a.updated_at,
                    a.started_at,
                    a.ended_at,
                ),
            )
            conn.executemany(
                "INSERT INTO appointment_participants (session_id, account_id) VALUES (?, ?)",
                [(a.session_id, p) for p in a.participants],
            )

        await self._engine.write(write)

    async def get_appointment(self, session_id: str) -> Appointment | None:
        await self._ensure_schema()

        def read(conn: sqlite3.Connection) -> Appointment | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM appointments WHERE session_id = ?", (session_id,)
            ).fetchone()
            return None if row is None else _appointment(conn, row)

        return await self._engine.read(read)

    async def get_appointments_of(self, account_id: str, *, ends_after: int, limit: int) -> list[Appointment]:
        await self._ensure_schema()

        def read(conn: sqlite3.Connection) -> list[Appointment]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM appointments WHERE ends_at > ? "
                "AND (therapist_id = ? OR session_id IN "
                "(SELECT session_id FROM appointment_participants WHERE account_id = ?)) "
                "ORDER BY starts_at, session_id LIMIT ?",
                (ends_after, account_id, account_id, limit),
            ).fetchall()
            return [_appointment(conn, r) for r in rows]

        return await self._engine.read(read)

    async def update_appointment(self, session_id: str, change: Reschedule, now: int) -> Appointment | None:
        await self._ensure_schema()

        def write(conn: sqlite3.Connection) -> Appointment | None:
            # The state condition and the update are one statement: a concurrent cancel or end wins or loses
            # as a whole, never half.
            updated = conn.execute(
                "UPDATE appointments SET starts_at = ?, ends_at = ?, max_participants = ?, updated_at = ? "
                "WHERE session_id = ? AND state = 'scheduled'",
                (change.starts_at, change.ends_at, change.max_participants, now, session_id),
            ).rowcount
            if not updated:
                return None
            conn.execute("DELETE FROM appointment_participants WHERE session_id = ?", (session_id,))
            conn.executemany(
                "INSERT INTO appointment_participants (session_id, account_id) VALUES (?, ?)",
                [(session_id, p) for p in change.participants],
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM appointments WHERE session_id = ?", (session_id,)
            ).fetchone()
            return _appointment(conn, row)

        return await self._engine.write(write)

    async def set_appointment_state(
        self, session_id: str, state: DurableState, now: int, *, only_from: tuple[DurableState, ...]
    ) -> bool:
        await self._ensure_schema()
        marks = ", ".join("?" for _ in only_from)

        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                f"UPDATE appointments SET state = ?, updated_at = ?, ended_at = ? "
                f"WHERE session_id = ? AND state IN ({marks})",
                (state, now, now if state in ("ended", "cancelled") else None, session_id, *only_from),
            )
            return cur.rowcount == 1

        return await self._engine.write(write)

    async def mark_appointment_started(self, session_id: str, now: int) -> None:
        await self._ensure_schema()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE appointments SET started_at = ? WHERE session_id = ? AND started_at IS NULL",
                (now, session_id),
            )

        await self._engine.write(write)

    async def add_attendance(self, session_id: str, account_id: str, joined_at: int) -> None:
        await self._ensure_schema()

        def write(conn: sqlite3.Connection) -> None:
            open_row = conn.execute(
                "SELECT 1 FROM appointment_attendance "
                "WHERE session_id = ? AND account_id = ? AND left_at IS NULL",
                (session_id, account_id),
            ).fetchone()
            if open_row is None:
                conn.execute(
                    "INSERT INTO appointment_attendance (session_id, account_id, joined_at) VALUES (?, ?, ?)",
                    (session_id, account_id, joined_at),
                )

        await self._engine.write(write)

    async def close_attendance(self, session_id: str, account_id: str, left_at: int) -> None:
        await self._ensure_schema()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE appointment_attendance SET left_at = ? WHERE session_id = ? AND account_id = ? "
                "AND left_at IS NULL",
                (left_at, session_id, account_id),
            )

        await self._engine.write(write)

    async def get_attendance(self, session_id: str) -> list[Attendance]:
        await self._ensure_schema()

        def read(conn: sqlite3.Connection) -> list[Attendance]:
            rows = conn.execute(
                "SELECT session_id, account_id, joined_at, left_at FROM appointment_attendance "
                "WHERE session_id = ? ORDER BY seq",
                (session_id,),
            ).fetchall()
            return [Attendance(r[0], r[1], r[2], r[3]) for r in rows]

        return await self._engine.read(read)
