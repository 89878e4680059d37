"""The audit log is one tamper-evident chain: verification passes on an honest log and names the first
entry that was edited or deleted behind the application's back."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.audit import AuditEvent, AuditService, canonical_bytes, seal
from storage.audit import GENESIS_HASH, NewAuditRecord
from storage.sqlite import DATABASE_FILE, SqliteStorage

ALICE = "a1" * 16
BOB = "b2" * 16
ADMIN = "ad" * 16
PHONE = "c3" * 16


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[AuditService, Path]]:
    # The tampering below edits the SQLite file behind the application's back: this suite needs that adapter.
    storage = SqliteStorage.open(tmp_path)
    try:
        yield AuditService(storage.audit), tmp_path / DATABASE_FILE
    finally:
        await storage.close()


async def _fill(audit: AuditService, n: int) -> None:
    for i in range(n):
        account = ALICE if i % 2 else BOB
        await audit.append(AuditEvent.LOGIN, account_id=account, device_id=PHONE, now=1000 + i)


def _tamper(path: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def test_canonical_encoding_is_fixed() -> None:
    record = NewAuditRecord(at=1700000000000, event="device_added", account_ref="ab" * 16, actor_ref="",
                            details=(("device", "cd" * 16), ("version", 2)))
    assert canonical_bytes(1, GENESIS_HASH, record) == (
        b'confidant-audit-v1\n[1,1700000000000,"device_added","' + b"ab" * 16 + b'","",{"device":"'
        + b"cd" * 16 + b'","version":2},"' + b"0" * 64 + b'"]'
    )
    assert seal(1, GENESIS_HASH, record) == "d64c238872d74a155b07a9d396791f3098edc7e7bd2527e7863c261d1936a0ad"


async def test_honest_chain_verifies_and_links(db: tuple[AuditService, Path]) -> None:
    audit, _ = db
    await _fill(audit, 7)
    report = await audit.verify()
    assert report.ok and report.entries == 7 and report.head_seq == 7
    assert report.verdict().startswith("audit chain OK: 7 entries")


async def test_empty_chain_verifies(db: tuple[AuditService, Path]) -> None:
    audit, _ = db
    report = await audit.verify()
    assert report.ok and report.entries == 0


async def test_concurrent_appends_form_one_chain(db: tuple[AuditService, Path]) -> None:
    audit, _ = db
    await asyncio.gather(*(audit.append(AuditEvent.LOGIN, account_id=ALICE, now=i) for i in range(60)))
    report = await audit.verify()
    assert report.ok and report.entries == 60 and report.head_seq == 60


async def test_edited_entry_is_found(db: tuple[AuditService, Path]) -> None:
    audit, path = db
    await _fill(audit, 6)
    _tamper(path, "UPDATE audit_log SET event = 'device_added' WHERE seq = ?", 3)
    report = await audit.verify()
    assert (report.ok, report.broken_at, report.reason) == (False, 3, "hash_mismatch")
    assert "BROKEN at entry 3" in report.verdict()


async def test_edited_entry_with_recomputed_hash_breaks_the_next_link(db: tuple[AuditService, Path]) -> None:
    audit, path = db
    await _fill(audit, 6)
    forged = NewAuditRecord(at=5, event="login", account_ref="00" * 16, actor_ref="", details=())
    entries = await audit._store.get_entries(0, 10)
    _tamper(path, "UPDATE audit_log SET at = 5, account_ref = ?, details = '{}', hash = ? WHERE seq = 4",
            "00" * 16, seal(4, entries[3].prev_hash, forged))
    report = await audit.verify()
    assert (report.broken_at, report.reason) == (5, "prev_mismatch")


async def test_deleted_entry_is_found(db: tuple[AuditService, Path]) -> None:
    audit, path = db
    await _fill(audit, 6)
    _tamper(path, "DELETE FROM audit_log WHERE seq = ?", 4)
    report = await audit.verify()
    assert (report.ok, report.broken_at, report.reason) == (False, 4, "missing")


async def test_deleted_newest_entry_is_found(db: tuple[AuditService, Path]) -> None:
    audit, path = db
    await _fill(audit, 6)
    _tamper(path, "DELETE FROM audit_log WHERE seq = ?", 6)
    report = await audit.verify()
    assert (report.ok, report.broken_at, report.reason) == (False, 6, "truncated")


async def test_application_cannot_rewrite_the_log(db: tuple[AuditService, Path]) -> None:
    audit, path = db
    await _fill(audit, 2)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET event = 'login' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log")
    conn.close()


async def test_own_entries_are_pseudonymous_and_private(db: tuple[AuditService, Path]) -> None:
    audit, path = db
    await audit.append(AuditEvent.ACCOUNT_REGISTERED, account_id=ALICE, device_id=PHONE, role="client")
    await audit.append(AuditEvent.LOGIN, account_id=BOB, device_id="d4" * 16)
    await audit.append(AuditEvent.ADMIN_ACCOUNT_DISABLED, account_id=ALICE, actor_id=ADMIN)
    mine = await audit.entries_of(ALICE, [PHONE], None, 50)
    assert [e["event"] for e in mine] == ["admin_account_disabled", "account_registered"]
    assert mine[0]["by_admin"] is True
    assert mine[1]["details"] == {"device_id": PHONE, "role": "client"}
    raw = b"".join(f.read_bytes() for f in path.parent.glob(path.name + "*"))
    for account_id in (ALICE, BOB, ADMIN, PHONE):
        assert account_id.encode() not in raw


async def test_details_refuse_free_text(db: tuple[AuditService, Path]) -> None:
    audit, _ = db
    with pytest.raises(ValueError):
        await audit.append(AuditEvent.LOGIN_FAILED, account_id=ALICE, reason="I feel hopeless today")
    assert (await audit.verify()).entries == 0
