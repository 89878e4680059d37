"""Retention on every adapter, with a driven clock: the sweep deletes idempotency records after hours,
appointments (with attendance) after the configured days, and terms versions nobody accepted once a newer
version exists; nothing younger, and nothing still referenced."""

from __future__ import annotations

from server.audit import AuditEvent, AuditService
from server.services.retention import DAY_MS, RetentionService
from storage.appointments import Appointment
from storage.protocols import Storage
from storage.records import Consent, Role
from tests.storage.contract import NOW, add_account, new_id, send

HOUR = 3_600_000


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def test_the_sweep_deletes_each_kind_at_its_age(store: Storage) -> None:
    therapist, t_dev = await add_account(store, Role.THERAPIST)
    client, c_dev = await add_account(store, Role.CLIENT, therapist.account_id)
    t, c = therapist.account_id, client.account_id
    first = send(c, c_dev.device_id, t, [t_dev.device_id], ttl_ms=30 * DAY_MS)
    await store.mailbox.add_send(first)
    later = send(c, c_dev.device_id, t, [t_dev.device_id], now=NOW + 5 * HOUR, ttl_ms=30 * DAY_MS)
    await store.mailbox.add_send(later)
    session = Appointment(new_id(), t, (c,), NOW, NOW + HOUR, 1, "ended", NOW, NOW)
    await store.appointments.add_appointment(session)
    await store.appointments.add_attendance(session.session_id, c, NOW + 1)
    for text in ("v1", "v2", "v3"):
        await store.consent.add_terms(t, text, text.encode() * 16, NOW)
    await store.consent.add_consent(Consent(t, c, 2, b"v2" * 16, NOW, b"s" * 64, c_dev.device_id, NOW))

    clock = Clock(NOW + 6 * HOUR + 1)
    retention = RetentionService(store, clock, sends_seconds=6 * 3600, attendance_days=30, audit_days=60)
    swept = await retention.sweep()
    # The first send's record is past 6 hours, the second not; v1 is neither current nor accepted.
    assert swept == {"sends": 1, "appointments": 0, "terms": 1, "audit_entries": 0}
    assert await store.mailbox.get_send(c_dev.device_id, first.message_id) is None
    assert await store.mailbox.get_send(c_dev.device_id, later.message_id) is not None
    assert len(await store.mailbox.get_items(t_dev.device_id, 0, 10, clock.now)) == 2  # envelopes stay
    assert (await store.consent.get_terms(t)).version == 3  # type: ignore[union-attr]
    assert [x.version for x in await store.consent.get_consents_of(c)] == [2]

    clock.now = NOW + HOUR + 30 * DAY_MS - 1  # one millisecond short of 30 days
    assert await retention.sweep() == {"sends": 1, "appointments": 0, "terms": 0, "audit_entries": 0}
    clock.now = NOW + HOUR + 30 * DAY_MS + 1
    assert await retention.sweep() == {"sends": 0, "appointments": 1, "terms": 0, "audit_entries": 0}
    assert await store.appointments.get_appointment(session.session_id) is None
    assert await store.appointments.get_attendance(session.session_id) == []
    assert await retention.sweep() == {"sends": 0, "appointments": 0, "terms": 0, "audit_entries": 0}


async def test_old_audit_entries_go_and_the_rest_still_verifies(store: Storage) -> None:
    audit = AuditService(store.audit)
    for day in range(5):  # one entry a day, for days 0..4
        await audit.append(AuditEvent.LOGIN, account_id=new_id(), now=NOW + day * DAY_MS)
    clock = Clock(NOW + 2 * DAY_MS + 3 * DAY_MS)  # entries older than 3 days: days 0 and 1
    retention = RetentionService(store, clock, sends_seconds=3600, attendance_days=30, audit_days=3)
    assert (await retention.sweep())["audit_entries"] == 2
    assert [e.seq for e in await store.audit.get_entries(0, 10)] == [3, 4, 5]
    report = await audit.verify()
    assert report.ok and report.entries == 3 and report.head_seq == 5, report
    assert (await retention.sweep())["audit_entries"] == 0
    # A new entry still chains; deleting past the floor is still caught as a missing entry.
    await audit.append(AuditEvent.LOGIN, account_id=new_id(), now=clock.now)
    assert (await audit.verify()).ok
    clock.now = NOW + 100 * DAY_MS
    assert (await retention.sweep())["audit_entries"] == 4
    assert (await audit.verify()).ok
