"""SQLite adapter of ``storage.appointments.AppointmentStore``.

The tables are created by the versioned migrations (storage/sqlite/schema.py, version 3).
"""

from __future__ import annotations

import sqlite3

from storage.appointments import Appointment, Attendance, DurableState, Reschedule
from storage.sqlite import retention
from storage.sqlite._engine import Engine
from storage.sqlite.erasure import erase

__all__ = ["SqliteAppointmentStore"]

_COLUMNS = (
    "session_id, therapist_id, starts_at, ends_at, max_participants, state, created_at, updated_at, "
    "started_at, ended_at"
)


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

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "appointments", account_id)

    async def delete_appointments_ended_before(self, cutoff: int) -> int:
        return await retention.delete_appointments_ended_before(self._engine, cutoff)

    async def add_appointment(self, appointment: Appointment) -> None:
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

        def read(conn: sqlite3.Connection) -> Appointment | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM appointments WHERE session_id = ?", (session_id,)
            ).fetchone()
            return None if row is None else _appointment(conn, row)

        return await self._engine.read(read)

    async def get_appointments_of(self, account_id: str, *, ends_after: int, limit: int) -> list[Appointment]:

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

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE appointments SET started_at = ? WHERE session_id = ? AND started_at IS NULL",
                (now, session_id),
            )

        await self._engine.write(write)

    async def add_attendance(self, session_id: str, account_id: str, joined_at: int) -> None:

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

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE appointment_attendance SET left_at = ? WHERE session_id = ? AND account_id = ? "
                "AND left_at IS NULL",
                (left_at, session_id, account_id),
            )

        await self._engine.write(write)

    async def get_attendance(self, session_id: str) -> list[Attendance]:

        def read(conn: sqlite3.Connection) -> list[Attendance]:
            rows = conn.execute(
                "SELECT session_id, account_id, joined_at, left_at FROM appointment_attendance "
                "WHERE session_id = ? ORDER BY seq",
                (session_id,),
            ).fetchall()
            return [Attendance(r[0], r[1], r[2], r[3]) for r in rows]

        return await self._engine.read(read)
