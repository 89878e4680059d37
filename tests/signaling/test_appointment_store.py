"""The SQLite appointment store: schema on first use, conditional writes, attendance rows."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.appointments import Appointment, Reschedule
from storage.sqlite import SqliteStorage
from storage.sqlite.appointments import SqliteAppointmentStore


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[SqliteAppointmentStore, list[str]]]:
    storage = SqliteStorage.open(tmp_path)
    accounts = [secrets.token_hex(16) for _ in range(3)]

    def add_accounts(conn: sqlite3.Connection) -> None:
        for account_id, role in zip(accounts, ("therapist", "client", "client"), strict=True):
            conn.execute(
                "INSERT INTO accounts (account_id, role, created_at) VALUES (?, ?, 0)", (account_id, role)
            )

    await storage.engine.write(add_accounts)
    try:
        yield SqliteAppointmentStore(storage.engine), accounts
    finally:
        await storage.close()


def _appointment(therapist: str, clients: tuple[str, ...], starts_at: int = 1_000) -> Appointment:
    return Appointment(
        secrets.token_hex(16),
        therapist,
        clients,
        starts_at,
        starts_at + 3_600_000,
        len(clients),
        "scheduled",
        1,
        1,
    )


async def test_appointments_are_listed_for_host_and_invited_only(
    db: tuple[SqliteAppointmentStore, list[str]],
) -> None:
    store, (therapist, a, b) = db
    first = _appointment(therapist, (a,), starts_at=5_000)
    second = _appointment(therapist, (a, b), starts_at=2_000)
    await store.add_appointment(first)
    await store.add_appointment(second)
    assert await store.get_appointment(first.session_id) == first
    assert [x.session_id for x in await store.get_appointments_of(therapist, ends_after=0, limit=10)] == [
        second.session_id,
        first.session_id,
    ]
    assert [x.session_id for x in await store.get_appointments_of(b, ends_after=0, limit=10)] == [
        second.session_id
    ]
    assert await store.get_appointments_of(b, ends_after=10**12, limit=10) == []


async def test_reschedule_and_state_changes_apply_only_while_scheduled(
    db: tuple[SqliteAppointmentStore, list[str]],
) -> None:
    store, (therapist, a, b) = db
    appt = _appointment(therapist, (a,))
    await store.add_appointment(appt)
    moved = await store.update_appointment(appt.session_id, Reschedule(9_000, 19_000, (a, b), 2), now=50)
    assert moved is not None and moved.participants == tuple(sorted((a, b))) and moved.starts_at == 9_000
    assert await store.set_appointment_state(appt.session_id, "cancelled", 60, only_from=("scheduled",))
    assert not await store.set_appointment_state(appt.session_id, "ended", 70, only_from=("scheduled",))
    assert await store.update_appointment(appt.session_id, Reschedule(1, 2, (a,), 1), now=80) is None
    final = await store.get_appointment(appt.session_id)
    assert final is not None and (final.state, final.ended_at, final.starts_at) == ("cancelled", 60, 9_000)


async def test_attendance_opens_once_and_closes_on_leave(
    db: tuple[SqliteAppointmentStore, list[str]],
) -> None:
    store, (therapist, a, _) = db
    appt = _appointment(therapist, (a,))
    await store.add_appointment(appt)
    await store.add_attendance(appt.session_id, a, 100)
    await store.add_attendance(appt.session_id, a, 150)  # a rejoin while in the room: same row
    await store.close_attendance(appt.session_id, a, 200)
    await store.close_attendance(appt.session_id, a, 250)  # nothing open: no change
    await store.add_attendance(appt.session_id, a, 300)
    rows = await store.get_attendance(appt.session_id)
    assert [(r.joined_at, r.left_at) for r in rows] == [(100, 200), (300, None)]
