"""The appointment store under the contract: listings for host and invited only, changes that apply only
while scheduled (as a whole), attendance rows that open once and close on leave."""

from __future__ import annotations

import asyncio

from storage.appointments import Appointment, Reschedule
from storage.protocols import Storage
from storage.records import Role
from tests.storage.contract import NOW, add_account, new_id

HOUR = 3_600_000


async def _people(store: Storage) -> tuple[str, str, str]:
    therapist, _ = await add_account(store, Role.THERAPIST)
    a, _ = await add_account(store, Role.CLIENT, therapist.account_id)
    b, _ = await add_account(store, Role.CLIENT, therapist.account_id)
    return therapist.account_id, a.account_id, b.account_id


def _appointment(therapist: str, clients: tuple[str, ...], starts_at: int = NOW) -> Appointment:
    return Appointment(
        new_id(), therapist, tuple(sorted(clients)), starts_at, starts_at + HOUR, len(clients), "scheduled",
        NOW, NOW,
    )


async def test_appointments_are_listed_for_host_and_invited_only(store: Storage) -> None:
    therapist, a, b = await _people(store)
    later = _appointment(therapist, (a,), starts_at=NOW + 5 * HOUR)
    sooner = _appointment(therapist, (a, b), starts_at=NOW + 2 * HOUR)
    for appointment in (later, sooner):
        await store.appointments.add_appointment(appointment)
    assert await store.appointments.get_appointment(later.session_id) == later
    assert await store.appointments.get_appointment(new_id()) is None

    def ids(found: list[Appointment]) -> list[str]:
        return [x.session_id for x in found]

    assert ids(await store.appointments.get_appointments_of(therapist, ends_after=NOW, limit=10)) == [
        sooner.session_id, later.session_id,
    ]
    listed = store.appointments.get_appointments_of
    assert ids(await listed(b, ends_after=NOW, limit=10)) == [sooner.session_id]
    assert ids(await listed(a, ends_after=NOW, limit=1)) == [sooner.session_id]
    # Driven clock: once both have ended (``ends_after`` past them), neither is listed.
    assert await store.appointments.get_appointments_of(a, ends_after=NOW + 6 * HOUR, limit=10) == []


async def test_changes_apply_only_while_scheduled(store: Storage) -> None:
    therapist, a, b = await _people(store)
    appointment = _appointment(therapist, (a,))
    await store.appointments.add_appointment(appointment)
    sid = appointment.session_id
    moved = await store.appointments.update_appointment(
        sid, Reschedule(NOW + HOUR, NOW + 2 * HOUR, tuple(sorted((a, b))), 2), NOW + 50
    )
    assert moved is not None
    assert (moved.participants, moved.starts_at, moved.max_participants, moved.updated_at) == (
        tuple(sorted((a, b))), NOW + HOUR, 2, NOW + 50,
    )
    listed = await store.appointments.get_appointments_of(b, ends_after=NOW, limit=5)
    assert [x.session_id for x in listed] == [sid]
    await store.appointments.mark_appointment_started(sid, NOW + 60)
    await store.appointments.mark_appointment_started(sid, NOW + 70)  # the first admission is kept
    set_state = store.appointments.set_appointment_state
    assert await set_state(sid, "cancelled", NOW + 80, only_from=("scheduled",))
    assert not await set_state(sid, "ended", NOW + 90, only_from=("scheduled",))
    assert await store.appointments.update_appointment(sid, Reschedule(1, 2, (a,), 1), NOW + 95) is None
    final = await store.appointments.get_appointment(sid)
    assert final is not None
    assert (final.state, final.started_at, final.ended_at, final.starts_at, final.participants) == (
        "cancelled", NOW + 60, NOW + 80, NOW + HOUR, tuple(sorted((a, b))),
    )


async def test_attendance_opens_once_and_closes_on_leave(store: Storage) -> None:
    therapist, a, _ = await _people(store)
    appointment = _appointment(therapist, (a,))
    await store.appointments.add_appointment(appointment)
    sid = appointment.session_id
    # Two devices of one account joining at once: one open row.
    await asyncio.gather(*(store.appointments.add_attendance(sid, a, NOW + i) for i in range(3)))
    await store.appointments.close_attendance(sid, a, NOW + 10)
    await store.appointments.close_attendance(sid, a, NOW + 15)  # nothing open: no change
    await store.appointments.add_attendance(sid, a, NOW + 20)
    await store.appointments.add_attendance(sid, therapist, NOW + 21)
    rows = await store.appointments.get_attendance(sid)
    mine = [(r.joined_at, r.left_at) for r in rows if r.account_id == a]
    assert len(mine) == 2 and mine[0][1] == NOW + 10 and mine[0][0] in (NOW, NOW + 1, NOW + 2)
    assert mine[1] == (NOW + 20, None)
    assert [(r.account_id, r.left_at) for r in rows if r.account_id == therapist] == [(therapist, None)]
    assert await store.appointments.get_attendance(new_id()) == []
