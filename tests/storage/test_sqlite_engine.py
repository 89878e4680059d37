"""SQLite-specific guarantees: group commit, savepoint isolation, durability across reopen, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
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


async def test_a_failing_write_among_rerunnable_ones_is_rolled_back_alone(tmp_path: Path) -> None:
    # A batch of re-runnable writes commits without savepoints; when one raises, the batch runs again the
    # savepoint way: its row is not stored, every other write of the batch is.
    storage = SqliteStorage.open(tmp_path)
    engine = storage.engine
    try:
        await engine.write(lambda conn: conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"))

        def insert(x: int, fail: bool = False) -> Callable[[sqlite3.Connection], int]:
            def write(conn: sqlite3.Connection) -> int:
                conn.execute("INSERT INTO t (x) VALUES (?)", (x,))
                if fail:
                    raise ValueError("refused after its insert")
                return x

            return write

        results = await asyncio.gather(
            *(engine.write(insert(x, fail=x == 3), rerunnable=True) for x in range(1, 6)),
            return_exceptions=True,
        )
        assert results[:2] == [1, 2] and results[3:] == [4, 5]
        assert isinstance(results[2], ValueError)
        rows = await engine.read(lambda conn: conn.execute("SELECT x FROM t ORDER BY x").fetchall())
        assert [r[0] for r in rows] == [1, 2, 4, 5]
    finally:
        await storage.close()


async def test_commit_callbacks_run_in_commit_order_even_for_a_cancelled_waiter(tmp_path: Path) -> None:
    # What the mailbox tail cache relies on: every committed write's callback runs, in commit order.
    storage = SqliteStorage.open(tmp_path)
    engine = storage.engine
    seen: list[int] = []
    try:
        await engine.write(lambda conn: conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY AUTOINCREMENT)"))

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute("INSERT INTO t DEFAULT VALUES")
            assert cur.lastrowid is not None
            return cur.lastrowid

        tasks = [
            asyncio.ensure_future(engine.write(insert, rerunnable=True, then=seen.append)) for _ in range(20)
        ]
        await asyncio.sleep(0)  # every write is queued
        tasks[7].cancel()  # its caller stops waiting; the write still commits
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(done[7], asyncio.CancelledError)
        assert seen == list(range(1, 21))
        rows = await engine.read(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone())
        assert rows[0] == 20
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
