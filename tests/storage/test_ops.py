"""The operators' aggregate store under the contract: counts only, at the time the caller passes (driven
clock), and never a client listed."""

from __future__ import annotations

import pytest

from storage.appointments import Appointment
from storage.ops import Backlog
from storage.protocols import Storage
from storage.records import Role
from tests.storage.contract import NOW, add_account, invitation, new_id, send


async def test_backlog_counts_unexpired_envelopes_at_the_given_time(store: Storage) -> None:
    assert await store.ops.get_backlog(NOW) == Backlog(0, None)
    therapist, t_dev = await add_account(store, Role.THERAPIST)
    client, c_dev = await add_account(store, Role.CLIENT, therapist.account_id)
    await store.mailbox.add_send(
        send(client.account_id, c_dev.device_id, therapist.account_id, [t_dev.device_id], ttl_ms=1000)
    )
    await store.mailbox.add_send(
        send(therapist.account_id, t_dev.device_id, client.account_id, [c_dev.device_id], now=NOW + 10)
    )
    assert await store.ops.get_backlog(NOW + 10) == Backlog(2, NOW)
    assert await store.ops.get_backlog(NOW + 1000) == Backlog(1, NOW + 10)  # the first one expired
    await store.mailbox.delete_items(c_dev.device_id, 10**9)
    assert await store.ops.get_backlog(NOW + 1000) == Backlog(0, None)


async def test_population_counts_roles_devices_and_pending_invitations(store: Storage) -> None:
    admin, _ = await add_account(store, Role.ADMIN)
    therapist, _ = await add_account(store, Role.THERAPIST, admin.account_id)
    client, c_dev = await add_account(store, Role.CLIENT, therapist.account_id)
    await add_account(store, Role.CLIENT, therapist.account_id)
    assert await store.accounts.set_account_disabled(client.account_id, True)
    assert await store.devices.revoke_device(c_dev.device_id, NOW)
    pending = invitation("pending", Role.CLIENT, therapist.account_id, expires_in_ms=1000)
    revoked = invitation("revoked", Role.THERAPIST, admin.account_id)
    for inv in (pending, revoked):
        await store.invitations.add_invitation(inv)
    assert await store.invitations.revoke_invitation(revoked.invitation_id, admin.account_id, NOW)
    population = await store.ops.get_population(NOW)
    assert population.accounts == {"admin": 1, "therapist": 1, "client": 1}
    assert population.disabled_accounts == {"admin": 0, "therapist": 0, "client": 1}
    assert population.active_devices == 3
    assert population.pending_invitations == {"admin": 0, "therapist": 0, "client": 1}
    later = await store.ops.get_population(NOW + 1000)  # driven clock: the invitation has expired
    assert later.pending_invitations == {"admin": 0, "therapist": 0, "client": 0}


async def test_staff_listing_is_oldest_first_and_never_lists_clients(store: Storage) -> None:
    admin, _ = await add_account(store, Role.ADMIN, now=NOW)
    therapist, _ = await add_account(store, Role.THERAPIST, admin.account_id, now=NOW + 1)
    await add_account(store, Role.CLIENT, therapist.account_id, now=NOW + 2)
    staff = await store.ops.get_accounts_by_role((Role.ADMIN, Role.THERAPIST), 10)
    assert [(s.account.account_id, s.account.role, s.active_devices) for s in staff] == [
        (admin.account_id, Role.ADMIN, 1), (therapist.account_id, Role.THERAPIST, 1),
    ]
    assert [s.account.account_id for s in await store.ops.get_accounts_by_role((Role.THERAPIST,), 10)] == [
        therapist.account_id
    ]
    assert len(await store.ops.get_accounts_by_role((Role.ADMIN, Role.THERAPIST), 1)) == 1
    with pytest.raises(ValueError):
        await store.ops.get_accounts_by_role((Role.CLIENT,), 10)


async def test_sessions_are_counted_by_state(store: Storage) -> None:
    assert await store.ops.count_sessions_by_state() == {}
    therapist, _ = await add_account(store, Role.THERAPIST)
    client, _ = await add_account(store, Role.CLIENT, therapist.account_id)
    ids = [new_id() for _ in range(4)]
    for sid in ids:
        await store.appointments.add_appointment(Appointment(
            sid, therapist.account_id, (client.account_id,), NOW, NOW + 1000, 1, "scheduled", NOW, NOW
        ))
    await store.appointments.mark_appointment_started(ids[1], NOW)
    assert await store.appointments.set_appointment_state(ids[2], "ended", NOW, only_from=("scheduled",))
    assert await store.appointments.set_appointment_state(ids[3], "cancelled", NOW, only_from=("scheduled",))
    assert await store.ops.count_sessions_by_state() == {
        "scheduled": 1, "in_progress": 1, "ended": 1, "cancelled": 1,
    }
