"""SQLite-specific guarantees: group commit, savepoint isolation, durability across reopen, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage.errors import PROTOCOL_V1_REFUSED, ProtocolVersionRefused, StorageUnavailable
from storage.records import Role
from storage.sqlite import DATABASE_FILE, SqliteStorage
from storage.sqlite.schema import MIGRATIONS, _statements
from tests.storage.contract import add_account, invitation


async def test_concurrent_writes_share_commits(tmp_path: Path) -> None:
    storage = SqliteStorage.open(tmp_path)
    commits = 0
    original = storage.engine._run_batch

    def counting(conn: sqlite3.Connection, batch: list) -> None:  # type: ignore[type-arg]
        nonlocal commits
        commits += 1
        original(conn, batch)

    storage.engine._run_batch = counting  # type: ignore[method-assign]
    try:
        await asyncio.gather(
            *(storage.invitations.add_invitation(invitation(f"c{i}", Role.ADMIN)) for i in range(200))
        )
        assert commits < 200  # grouped: fewer commits (fsyncs) than acknowledged writes
    finally:
        await storage.close()


async def test_acknowledged_writes_survive_reopen(tmp_path: Path) -> None:
    storage = SqliteStorage.open(tmp_path)
    await asyncio.gather(
        *(storage.invitations.add_invitation(invitation(f"c{i}", Role.ADMIN)) for i in range(50))
    )
    await storage.close()
    conn = sqlite3.connect(tmp_path / DATABASE_FILE)
    try:
        assert conn.execute("SELECT count(*) FROM invitations").fetchone()[0] == 50
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        conn.close()


async def test_closed_database_is_storage_unavailable(tmp_path: Path) -> None:
    storage = SqliteStorage.open(tmp_path)
    await storage.close()
    with pytest.raises(StorageUnavailable):
        await storage.accounts.count_accounts()
    with pytest.raises(StorageUnavailable):
        await storage.invitations.add_invitation(invitation("c", Role.ADMIN))
    with pytest.raises(StorageUnavailable):
        await storage.ping()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DATABASE_FILE)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        SqliteStorage.open(tmp_path)


async def test_unopenable_path_is_storage_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises((StorageUnavailable, OSError)):
        SqliteStorage.open(tmp_path / "file")


def test_a_protocol_version_1_database_is_refused_with_one_sentence(tmp_path: Path) -> None:
    data = tmp_path / "v1"
    data.mkdir()
    conn = sqlite3.connect(data / DATABASE_FILE)
    for script in MIGRATIONS[:4]:  # the schema protocol version 1 wrote
        conn.executescript(script)
    conn.execute("PRAGMA user_version=4")
    conn.close()
    with pytest.raises(ProtocolVersionRefused) as refused:
        SqliteStorage.open(data)
    assert str(refused.value) == PROTOCOL_V1_REFUSED and PROTOCOL_V1_REFUSED.count(".") == 1


async def test_send_facts_are_read_in_one_reader_hop(tmp_path: Path) -> None:
    # The point of the SQLite send-facts store: authorizing a send costs one reader-thread hop, not five.
    storage = SqliteStorage.open(tmp_path)
    try:
        therapist, _ = await add_account(storage, Role.THERAPIST)
        client, _ = await add_account(storage, Role.CLIENT, therapist.account_id)
        hops = 0
        original = storage.engine.read

        async def counting(fn):  # type: ignore[no-untyped-def]
            nonlocal hops
            hops += 1
            return await original(fn)

        storage.engine.read = counting  # type: ignore[method-assign]
        pair = (therapist.account_id, client.account_id)
        facts = await storage.send_facts.get_send_facts(client.account_id, therapist.account_id, pair)
        assert facts.pair is not None and facts.pair.linked and hops == 1
    finally:
        await storage.close()


@pytest.mark.parametrize("legacy_tables", [True, False], ids=["tables-made-on-first-use", "no-tables"])
async def test_a_version_2_schema_database_is_refused_and_left_untouched(
    tmp_path: Path, legacy_tables: bool
) -> None:
    # Schemas 1-4 were written by protocol version 1 (devices without certificates): protocol version 2
    # refuses them at start, without changing a byte (there is no migration; no deployment existed).
    conn = sqlite3.connect(tmp_path / DATABASE_FILE, isolation_level=None)
    for script in MIGRATIONS[:2]:
        for statement in _statements(script):
            conn.execute(statement)
    if legacy_tables:
        for statement in _statements(MIGRATIONS[2]):
            conn.execute(statement)
        conn.execute("INSERT INTO audit_secrets (name, value) VALUES ('pseudonym', x'01')")
    conn.execute("PRAGMA user_version=2")
    conn.close()
    with pytest.raises(ProtocolVersionRefused):
        SqliteStorage.open(tmp_path)
    conn = sqlite3.connect(tmp_path / DATABASE_FILE)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert ("audit_secrets" in tables) is legacy_tables and "blobs" not in tables
    finally:
        conn.close()
