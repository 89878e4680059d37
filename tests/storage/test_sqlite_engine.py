"""SQLite-specific guarantees: group commit, savepoint isolation, durability across reopen, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage.errors import PROTOCOL_V1_REFUSED, ProtocolVersionRefused, StorageUnavailable
from storage.records import Role
from storage.sqlite import DATABASE_FILE, SqliteStorage
from storage.sqlite.schema import MIGRATIONS
from tests.storage.contract import invitation


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
    for script in MIGRATIONS[:2]:  # the schema protocol version 1 wrote
        conn.executescript(script)
    conn.execute("PRAGMA user_version=2")
    conn.close()
    with pytest.raises(ProtocolVersionRefused) as refused:
        SqliteStorage.open(data)
    assert str(refused.value) == PROTOCOL_V1_REFUSED and PROTOCOL_V1_REFUSED.count(".") == 1
