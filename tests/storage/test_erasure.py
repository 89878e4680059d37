"""Erasure on every adapter: each store of ERASE_ORDER deletes what it holds of one account, leaves the
others' data, and does nothing on a second run (a crash midway is finished by running it again)."""

from __future__ import annotations

import os

from storage.appointments import Appointment
from storage.erasure import ERASE_ORDER, ErasureJob
from storage.protocols import Storage
from storage.records import Consent, Role, TokenRecord
from tests.storage.contract import NOW, add_account, new_id, send

HOUR = 3_600_000


async def _populated(store: Storage) -> tuple[str, str, str, str, str]:
    """A therapist with two clients; the first client has everything an account can have."""
    therapist, t_dev = await add_account(store, Role.THERAPIST)
    client, c_dev = await add_account(store, Role.CLIENT, therapist.account_id)
    other, o_dev = await add_account(store, Role.CLIENT, therapist.account_id)
    t, c = therapist.account_id, client.account_id
    await store.consent.add_terms(t, "terms", b"h" * 32, NOW)
    for who, dev in ((c, c_dev), (other.account_id, o_dev)):
        await store.consent.add_consent(Consent(t, who, 1, b"h" * 32, NOW, b"s" * 64, dev.device_id, NOW))
    await store.mailbox.add_send(send(c, c_dev.device_id, t, [t_dev.device_id]))
    await store.mailbox.add_send(send(t, t_dev.device_id, c, [c_dev.device_id]))
    await store.mailbox.add_send(send(t, t_dev.device_id, other.account_id, [o_dev.device_id]))
    await store.tokens.add_token(os.urandom(32), _token(c_dev.device_id, c))
    await store.challenges.add_challenge(os.urandom(32), c_dev.device_id, NOW + 60_000)
    session = Appointment(new_id(), t, tuple(sorted((c, other.account_id))), NOW, NOW + HOUR, 2,
                          "scheduled", NOW, NOW)
    await store.appointments.add_appointment(session)
    await store.appointments.add_attendance(session.session_id, c, NOW + 1)
    await store.appointments.add_attendance(session.session_id, other.account_id, NOW + 2)
    return t, c, other.account_id, t_dev.device_id, session.session_id


def _token(device_id: str, account_id: str) -> TokenRecord:
    return TokenRecord(device_id, account_id, NOW + HOUR)


async def _erase(store: Storage, account_id: str) -> int:
    total = 0
    for name in ERASE_ORDER:
        total += await getattr(store, name).erase_account(account_id)
    return total


async def test_erasing_a_client_removes_it_everywhere_and_keeps_the_others(store: Storage) -> None:
    t, c, other, t_dev, session_id = await _populated(store)
    assert await _erase(store, c) > 0

    assert await store.accounts.get_account(c) is None
    assert await store.devices.get_devices([c]) == []
    assert await store.links.get_links_of(c) == []
    assert await store.consent.get_consents_of(c) == []
    items = await store.mailbox.get_items(t_dev, 0, 100, NOW)
    assert [i.from_account for i in items if i.from_account == c] == []
    attendance = await store.appointments.get_attendance(session_id)
    assert [a.account_id for a in attendance] == [other]
    appointment = await store.appointments.get_appointment(session_id)
    assert appointment is not None and appointment.participants == (other,)
    # The therapist and the other client are untouched.
    assert await store.accounts.get_account(t) is not None
    assert {link.client_id for link in await store.links.get_links_of(t)} == {other}
    assert [x.client_id for x in await store.consent.get_consents_of(t)] == [other]
    assert (await store.consent.get_terms(t)) is not None
    assert len(await store.devices.get_devices([t, other])) == 2


async def test_erasing_a_therapist_removes_its_sessions_links_and_terms(store: Storage) -> None:
    t, c, other, _, session_id = await _populated(store)
    await _erase(store, t)
    assert await store.accounts.get_account(t) is None
    assert await store.appointments.get_appointment(session_id) is None
    assert await store.appointments.get_attendance(session_id) == []
    assert await store.consent.get_terms(t) is None
    assert await store.links.get_links_of(c) == [] and await store.links.get_links_of(other) == []
    assert await store.invitations.get_invitations_by_inviter(t) == []
    assert await store.accounts.get_account(c) is not None


async def test_erasure_is_idempotent_and_resumable_after_any_store(store: Storage) -> None:
    _, c, *_ = await _populated(store)
    # A crash after the first half: the next run finishes, and a third run finds nothing.
    for name in ERASE_ORDER[: len(ERASE_ORDER) // 2]:
        await getattr(store, name).erase_account(c)
    assert await _erase(store, c) > 0
    assert await _erase(store, c) == 0


async def test_erasure_jobs_are_recorded_once_and_deleted(store: Storage) -> None:
    a, b = new_id(), new_id()
    assert await store.erasure.add_erasure_job(ErasureJob(b, NOW + 1, True))
    assert await store.erasure.add_erasure_job(ErasureJob(a, NOW, False))
    assert not await store.erasure.add_erasure_job(ErasureJob(a, NOW + 5, True))
    assert await store.erasure.get_erasure_jobs() == [ErasureJob(a, NOW, False), ErasureJob(b, NOW + 1, True)]
    assert await store.erasure.delete_erasure_job(a)
    assert not await store.erasure.delete_erasure_job(a)
    assert [j.account_id for j in await store.erasure.get_erasure_jobs()] == [b]


async def test_audit_account_keys_first_writer_wins_and_shred(store: Storage) -> None:
    first = await store.audit.get_or_add_account_key("i1", b"k1")
    assert first == b"k1" and await store.audit.get_or_add_account_key("i1", b"k2") == b"k1"
    assert await store.audit.delete_account_key("i1")
    assert not await store.audit.delete_account_key("i1")
    assert await store.audit.get_or_add_account_key("i1", b"k3") == b"k3"


async def test_discharge_deletes_one_link_and_keeps_the_consent(store: Storage) -> None:
    t, c, other, *_ = await _populated(store)
    assert await store.links.delete_link(t, c)
    assert not await store.links.delete_link(t, c)
    assert await store.links.get_link(t, c) is None
    assert await store.links.get_link(t, other) is not None
    assert [x.client_id for x in await store.consent.get_consents_of(c)] == [c]
