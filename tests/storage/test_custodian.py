"""The custodian store contract, on every adapter of the storage port (the ``store`` fixture)."""

from __future__ import annotations

import asyncio
import secrets

from storage.custodian import CustodianCopy, CustodianKey
from storage.protocols import Storage

NOW = 1_800_000_000_000


def _id() -> str:
    return secrets.token_hex(16)


def _copy(account: str, record: str, version: int, text: bytes = b"sealed") -> CustodianCopy:
    return CustodianCopy(account, record, version, b"k" * 32, text + bytes([version]), NOW + version)


async def test_the_custodian_is_off_until_configured_and_can_be_turned_off(store: Storage) -> None:
    assert await store.custodian.get_custodian_key() is None
    await store.custodian.set_custodian_key(CustodianKey(b"a" * 32, NOW))
    await store.custodian.set_custodian_key(CustodianKey(b"b" * 32, NOW + 1))  # a new key replaces it
    assert await store.custodian.get_custodian_key() == CustodianKey(b"b" * 32, NOW + 1)
    await store.custodian.set_custodian_key(None)
    assert await store.custodian.get_custodian_key() is None


async def test_a_copy_is_replaced_by_newer_versions_only(store: Storage) -> None:
    custodian, therapist, note = store.custodian, _id(), _id()
    assert await custodian.put_custodian_copy(_copy(therapist, note, 1))
    assert await custodian.put_custodian_copy(_copy(therapist, note, 3))
    assert not await custodian.put_custodian_copy(_copy(therapist, note, 2))  # a late retry
    assert await custodian.put_custodian_copy(_copy(therapist, note, 3))  # the same version again: a retry
    got = await custodian.get_custodian_copies(therapist)
    assert [(c.record_id, c.version, c.ciphertext) for c in got] == [(note, 3, b"sealed\x03")]
    assert await custodian.get_custodian_copies(_id()) == []


async def test_racing_versions_leave_the_newest(store: Storage) -> None:
    custodian, therapist, note = store.custodian, _id(), _id()
    await asyncio.gather(*(custodian.put_custodian_copy(_copy(therapist, note, v)) for v in (2, 5, 1, 4, 3)))
    assert [c.version for c in await custodian.get_custodian_copies(therapist)] == [5]


async def test_deleting_one_copy_and_purging_a_therapist(store: Storage) -> None:
    custodian, therapist, other = store.custodian, _id(), _id()
    notes = sorted(_id() for _ in range(3))
    for note in notes:
        await custodian.put_custodian_copy(_copy(therapist, note, 1))
    await custodian.put_custodian_copy(_copy(other, notes[0], 1))
    assert await custodian.delete_custodian_copy(therapist, notes[0])
    assert not await custodian.delete_custodian_copy(therapist, notes[0])
    assert [c.record_id for c in await custodian.get_custodian_copies(therapist)] == notes[1:]
    assert await custodian.delete_custodian_copies_of(therapist) == 2
    assert await custodian.get_custodian_copies(therapist) == []
    assert len(await custodian.get_custodian_copies(other)) == 1  # another therapist's copies stay


async def test_copies_survive_the_erasure_of_the_therapist_account(store: Storage) -> None:
    from storage.erasure import ERASE_ORDER

    therapist, note = _id(), _id()
    await store.custodian.put_custodian_copy(_copy(therapist, note, 1))
    assert "custodian" not in ERASE_ORDER  # the practice's record: kept for its legal duty
    for name in ERASE_ORDER:
        await getattr(store, name).erase_account(therapist)
    assert [c.record_id for c in await store.custodian.get_custodian_copies(therapist)] == [note]
