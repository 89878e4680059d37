"""SQLite side of retention (docs/STORAGE.md "Retention"): deletions by age, each one write."""

from __future__ import annotations

import sqlite3

from storage.sqlite._engine import Engine

__all__ = ["delete_appointments_ended_before", "delete_sends_before", "delete_unreferenced_terms"]


async def delete_sends_before(engine: Engine, cutoff: int) -> int:
    def write(conn: sqlite3.Connection) -> int:
        return conn.execute("DELETE FROM sends WHERE accepted_at < ?", (cutoff,)).rowcount

    return await engine.write(write)


async def delete_unreferenced_terms(engine: Engine) -> int:
    def write(conn: sqlite3.Connection) -> int:
        return conn.execute(
            "DELETE FROM terms WHERE version < (SELECT MAX(version) FROM terms AS t "
            "WHERE t.therapist_id = terms.therapist_id) AND NOT EXISTS (SELECT 1 FROM consents AS c "
            "WHERE c.therapist_id = terms.therapist_id AND c.version = terms.version)"
        ).rowcount

    return await engine.write(write)


async def delete_appointments_ended_before(engine: Engine, cutoff: int) -> int:
    old = "(SELECT session_id FROM appointments WHERE ends_at < :c)"

    def write(conn: sqlite3.Connection) -> int:
        conn.execute(f"DELETE FROM appointment_attendance WHERE session_id IN {old}", {"c": cutoff})
        conn.execute(f"DELETE FROM appointment_participants WHERE session_id IN {old}", {"c": cutoff})
        return conn.execute("DELETE FROM appointments WHERE ends_at < :c", {"c": cutoff}).rowcount

    return await engine.write(write)
