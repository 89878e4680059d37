"""The audit store under the contract: one chain even when appends race, the head next to it, an account's
entries by pseudonym, and secrets that the first writer fixes."""

from __future__ import annotations

import asyncio
import hashlib

from storage.audit import GENESIS_HASH, NewAuditRecord
from storage.protocols import Storage
from tests.storage.contract import NOW


def _seal(seq: int, prev: str, record: NewAuditRecord) -> str:
    return hashlib.sha256(f"{seq}|{prev}|{record.event}|{record.account_ref}".encode()).hexdigest()


def _record(i: int, account: str, actor: str = "", event: str = "login") -> NewAuditRecord:
    return NewAuditRecord(NOW + i, event, account, actor, (("n", i), ("role", "client")))


async def test_concurrent_appends_form_one_chain(store: Storage) -> None:
    assert await store.audit.get_head() is None
    assert await store.audit.get_entries(0, 10) == []
    records = [_record(i, f"ref{i}") for i in range(20)]
    appended = await asyncio.gather(*(store.audit.append_entry(r, _seal) for r in records))
    assert sorted(a.seq for a in appended) == list(range(1, 21))
    chain = await store.audit.get_entries(0, 100)
    assert [e.seq for e in chain] == list(range(1, 21))
    assert chain[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]
    assert all(e.hash == _seal(e.seq, e.prev_hash, _record(0, e.account_ref)) for e in chain)
    head = await store.audit.get_head()
    assert head is not None and (head.seq, head.hash) == (20, chain[-1].hash)
    assert [e.seq for e in await store.audit.get_entries(15, 3)] == [16, 17, 18]
    assert await store.audit.count_entries_by_event() == {"login": 20}


async def test_entries_round_trip_and_are_found_by_owner_or_actor(store: Storage) -> None:
    await store.audit.append_entry(_record(1, "alice"), _seal)
    await store.audit.append_entry(_record(2, "bob"), _seal)
    await store.audit.append_entry(_record(3, "bob", actor="alice", event="admin_account_disabled"), _seal)
    await store.audit.append_entry(_record(4, "alice", event="device_added"), _seal)
    [first] = await store.audit.get_entries(0, 1)
    assert (first.at, first.event, first.account_ref, first.actor_ref, first.details) == (
        NOW + 1, "login", "alice", "", (("n", 1), ("role", "client")),
    )
    mine = await store.audit.get_entries_of(("alice",), None, 10)
    assert [e.seq for e in mine] == [4, 3, 1]  # newest first, as owner or as actor
    assert [e.seq for e in await store.audit.get_entries_of(("alice",), 4, 1)] == [3]
    assert [e.seq for e in await store.audit.get_entries_of(("carol", "bob"), None, 10)] == [3, 2]
    assert await store.audit.get_entries_of((), None, 10) == []
    assert await store.audit.count_entries_by_event() == {
        "login": 2, "admin_account_disabled": 1, "device_added": 1,
    }


async def test_the_first_secret_stays(store: Storage) -> None:
    candidates = [bytes([i]) * 32 for i in range(5)]
    results = await asyncio.gather(*(store.audit.get_or_add_secret("pseudonym", c) for c in candidates))
    assert len(set(results)) == 1 and results[0] in candidates
    assert await store.audit.get_or_add_secret("pseudonym", b"late" * 8) == results[0]
    assert await store.audit.get_or_add_secret("other", b"x" * 32) == b"x" * 32
