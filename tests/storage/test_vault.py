"""The vault store contract, on every adapter of the storage port (the ``store`` fixture)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from storage.protocols import Storage
from storage.vault import RecoveryBackup, VaultConflict, VaultFull

NOW = 1_800_000_000_000
MAX = 5


def _id() -> str:
    return secrets.token_hex(16)


async def test_create_read_update_and_positions(store: Storage) -> None:
    vault, account, record = store.vault, _id(), _id()
    assert await vault.get_vault_position(account) == 0
    first = await vault.put_vault_record(account, record, b"c1", expected_version=0, max_records=MAX, now=NOW)
    assert (first.version, first.seq, first.ciphertext, first.size) == (1, 1, b"c1", 2)
    second = await vault.put_vault_record(
        account, record, b"c2-longer", expected_version=1, max_records=MAX, now=NOW + 5
    )
    assert (second.version, second.seq, second.created_at, second.updated_at) == (2, 2, NOW, NOW + 5)
    got = await vault.get_vault_record(account, record)
    assert got is not None and got.ciphertext == b"c2-longer" and got.version == 2
    assert await vault.get_vault_position(account) == 2
    # Another account's vault is separate: same record id, nothing shared.
    assert await vault.get_vault_record(_id(), record) is None


async def test_a_stale_write_is_refused_with_the_current_version(store: Storage) -> None:
    vault, account, record = store.vault, _id(), _id()
    await vault.put_vault_record(account, record, b"v1", expected_version=0, max_records=MAX, now=NOW)
    await vault.put_vault_record(account, record, b"v2", expected_version=1, max_records=MAX, now=NOW)
    with pytest.raises(VaultConflict) as stale:
        await vault.put_vault_record(account, record, b"lost?", expected_version=1, max_records=MAX, now=NOW)
    assert stale.value.current_version == 2
    with pytest.raises(VaultConflict) as exists:
        await vault.put_vault_record(account, record, b"again", expected_version=0, max_records=MAX, now=NOW)
    assert exists.value.current_version == 2
    with pytest.raises(VaultConflict) as absent:
        await vault.put_vault_record(account, _id(), b"x", expected_version=3, max_records=MAX, now=NOW)
    assert absent.value.current_version == 0
    got = await vault.get_vault_record(account, record)
    assert got is not None and got.ciphertext == b"v2"


async def test_two_racing_writers_exactly_one_wins(store: Storage) -> None:
    vault, account, record = store.vault, _id(), _id()
    await vault.put_vault_record(account, record, b"base", expected_version=0, max_records=MAX, now=NOW)
    results = await asyncio.gather(
        *(
            vault.put_vault_record(
                account, record, f"w{i}".encode(), expected_version=1, max_records=MAX, now=NOW
            )
            for i in range(4)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, VaultConflict)]
    assert len(winners) == 1 and len(losers) == 3
    assert all(c.current_version == 2 for c in losers)
    got = await vault.get_vault_record(account, record)
    assert got is not None and got.ciphertext == winners[0].ciphertext


async def test_racing_creations_respect_the_record_limit(store: Storage) -> None:
    vault, account = store.vault, _id()
    results = await asyncio.gather(
        *(
            vault.put_vault_record(account, _id(), b"x", expected_version=0, max_records=MAX, now=NOW)
            for _ in range(MAX + 3)
        ),
        return_exceptions=True,
    )
    assert sum(1 for r in results if isinstance(r, VaultFull)) == 3
    assert len(await vault.get_vault_index(account)) == MAX
    # Deleting one frees a slot.
    entry = (await vault.get_vault_index(account))[0]
    await vault.delete_vault_record(account, entry.record_id, expected_version=entry.version)
    await vault.put_vault_record(account, _id(), b"y", expected_version=0, max_records=MAX, now=NOW)


async def test_changes_index_and_delete(store: Storage) -> None:
    vault, account = store.vault, _id()
    a, b, c = _id(), _id(), _id()
    for r in (a, b, c):
        await vault.put_vault_record(account, r, r.encode(), expected_version=0, max_records=MAX, now=NOW)
    await vault.put_vault_record(account, a, b"a2", expected_version=1, max_records=MAX, now=NOW)
    changes = await vault.get_vault_changes(account, after_seq=2, limit=10)
    assert [(x.record_id, x.seq) for x in changes] == [(c, 3), (a, 4)]
    assert [x.record_id for x in await vault.get_vault_changes(account, after_seq=0, limit=2)] == [b, c]
    with pytest.raises(VaultConflict):
        await vault.delete_vault_record(account, b, expected_version=2)
    assert await vault.delete_vault_record(account, b, expected_version=1) == 5
    assert await vault.get_vault_record(account, b) is None
    index = await vault.get_vault_index(account)
    assert [(e.record_id, e.version, e.size) for e in index] == [(c, 1, 32), (a, 2, 2)]
    with pytest.raises(VaultConflict) as gone:
        await vault.delete_vault_record(account, b, expected_version=1)
    assert gone.value.current_version == 0


async def test_erasing_an_account_removes_its_vault_and_backup_only(store: Storage) -> None:
    vault, account, other = store.vault, _id(), _id()
    for acc in (account, other):
        await vault.put_vault_record(acc, _id(), b"x", expected_version=0, max_records=MAX, now=NOW)
        await vault.put_recovery_backup(RecoveryBackup(acc, _id(), b"v" * 32, b"sealed", NOW))
    assert await vault.erase_account(account) == 1  # what account erasure calls (storage/erasure.py)
    assert await vault.erase_account(account) == 0  # idempotent
    assert await vault.get_vault_index(account) == []
    assert await vault.get_vault_position(account) == 0
    assert await vault.get_recovery_backup_of(account) is None
    assert len(await vault.get_vault_index(other)) == 1
    assert await vault.get_recovery_backup_of(other) is not None


async def test_a_new_recovery_backup_replaces_the_old(store: Storage) -> None:
    vault, account = store.vault, _id()
    old, new = _id(), _id()
    await vault.put_recovery_backup(RecoveryBackup(account, old, b"a" * 32, b"one", NOW))
    await vault.put_recovery_backup(RecoveryBackup(account, new, b"b" * 32, b"two", NOW + 1))
    assert await vault.get_recovery_backup(old) is None
    got = await vault.get_recovery_backup(new)
    assert got == RecoveryBackup(account, new, b"b" * 32, b"two", NOW + 1)
    assert await vault.get_recovery_backup_of(account) == got
