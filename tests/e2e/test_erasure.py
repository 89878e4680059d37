"""Erasure end to end on a real `confidant serve`: a client who talked to their therapist (messages, files, a
video session, and the therapist's notes about them) erases their account; afterwards no table, no log line
and no file of the data dir holds the client's id, devices or keys, the audit chain still verifies
(`confidant admin verify-audit`), and the therapist's account and notes are untouched.
An erasure killed midway (kill -9 between two stores) is finished by the next start."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from client.calls import run_call
from client.device import Device
from client.ending import erase_account_as_admin, erase_own_account
from client.errors import ApiError, TransportError
from client.files import send_file
from client.vault import Vault
from server.services.erasure import PAUSE_ENV
from tests.e2e._scan import encodings
from tests.e2e.conftest import Practice
from tests.fixtures.webrtc import loopback_ice

__all__ = ["loopback_ice"]  # the fixture, for the video session
from tests.fixtures.server_proc import CONFIDANT, ConfidantServer


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ConfidantServer]:
    # Info level, as in production: the scan below reads every line the server wrote.
    srv = ConfidantServer(tmp_path / "data", log_path=tmp_path / "server.log", log_level="info")
    await srv.start_async()
    try:
        yield srv
    finally:
        srv.stop()


def _traces(device: Device) -> dict[str, list[bytes]]:
    """What identifies the client: its ids, and the public keys the server held for it."""
    return {
        "account id": [bytes.fromhex(device.account_id), device.account_id.encode()],
        "device id": [bytes.fromhex(device.device_id), device.device_id.encode()],
        "identity key": [device.identity.public.to_bytes()],
    }


def _table_leaks(db: Path, needles: dict[str, list[bytes]]) -> list[str]:
    """Every value of every table (the SQL view of the data, not freed pages): no needle in any of them."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = set()
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    for label, values in needles.items():
                        if any(enc in raw for v in values for enc in encodings(v) | {v}):
                            found.add(f"{label} in {table}")
        return sorted(found)
    finally:
        conn.close()


def _verify_cli(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONFIDANT), "admin", "verify-audit", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60)


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


NOTES = ("Session one: sleep is better, panic twice.", "Session two: talked about her sister.")


async def _session_and_notes(p: Practice) -> None:
    """A video session (real aiortc peers through the server: appointment, admission, attendance), then the
    therapist's notes about the client, the second tied to that session."""
    timings = await run_call(p.therapist, p.client, hold_s=0)
    assert timings.connected_s > 0
    vault = Vault.of(p.therapist)
    await vault.save_note(p.client.account_id, NOTES[0], now=1_800_000_000_000)
    sessions = (await p.therapist.api.request("GET", "/sessions"))["sessions"]
    await vault.save_note(
        p.client.account_id, NOTES[1], now=1_800_000_060_000, session_id=sessions[0]["session_id"]
    )


async def _converse(p: Practice, *, session_and_notes: bool = False) -> None:
    await p.client.accept_terms(p.therapist.account_id)
    if session_and_notes:
        await _session_and_notes(p)
    await p.client.send(p.therapist.account_id, "I would like to stop our sessions.", timeout=30)
    assert [m.body for m in await p.therapist.receive(1)] == ["I would like to stop our sessions."]
    await p.therapist.send(p.client.account_id, "Of course. Take care.", timeout=30)
    assert [m.body for m in await p.client.receive(1)] == ["Of course. Take care."]
    # A file to the client that it never downloads: its blob is addressed to the client.
    await send_file(p.therapist, p.client.account_id, os.urandom(50_000), name="worksheet.pdf")
    await p.client.receive(1)
    # An envelope and a file the therapist never fetched: their sender id must go too.
    await p.therapist.close()
    p.remember(p.therapist)
    await p.client.send(p.therapist.account_id, "One last thing.", timeout=30)
    await send_file(p.client, p.therapist.account_id, os.urandom(40_000), name="journal.txt")
    assert len(_blob_files(p)) == 2


def _blob_files(p: Practice) -> list[Path]:
    return [f for f in (p.server.data_dir / "blobs").rglob("*") if f.is_file()]


async def _token_is_dead(server_url: str, token: str) -> bool:
    async with aiohttp.ClientSession() as http, http.get(
        f"{server_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status in (401, 403)


def _vault_rows(db: Path, account_id: str) -> list[tuple[str, int, bytes]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT record_id, version, ciphertext FROM vault_records "
            "WHERE account_id = ? ORDER BY record_id",
            (account_id,),
        ).fetchall()
        return [(r, int(v), bytes(c)) for r, v, c in rows]
    finally:
        conn.close()


@pytest.mark.webrtc
async def test_a_client_erases_their_account_and_nothing_of_it_remains(
    practice: Practice, loopback_ice: None
) -> None:
    p = practice
    await _converse(p, session_and_notes=True)
    client, db = p.client, p.server.db_path
    notes_before = _vault_rows(db, p.therapist.account_id)
    assert len(notes_before) == 2
    assert _count(db, "SELECT COUNT(*) FROM appointments") == 1
    assert _count(db, "SELECT COUNT(*) FROM appointment_attendance") >= 2
    traces = _traces(client)
    # And what they said or had written about them: never stored readable, before or after.
    said = ("I would like to stop our sessions.", "One last thing.", "worksheet.pdf", "journal.txt")
    traces["content"] = [t.encode() for t in (*NOTES, *said)]
    token = client.api.token
    assert token is not None
    audit_before = _count(db, "SELECT COUNT(*) FROM audit_log")
    keys_before = _count(db, "SELECT COUNT(*) FROM audit_account_keys")
    assert _table_leaks(db, traces), "the scan finds the client before the erasure"

    await erase_own_account(client)
    assert await _token_is_dead(p.server.url, token)

    therapist = p.remember(await Device.open(p.therapist.keystore_path, "correct horse battery staple"))
    assert [c.account_id for c in await therapist.contacts()] == []
    assert therapist.state is not None  # the therapist's own account, keys and history are intact
    # The therapist's notes about the erased client are theirs: byte for byte the same, and still open.
    assert _vault_rows(db, therapist.account_id) == notes_before
    vault = Vault.of(therapist)
    await vault.sync()
    assert sorted(n.body["text"] for n in vault.notes(client.account_id)) == sorted(NOTES)
    assert vault.unreadable == set()
    p.server.stop()
    assert _table_leaks(db, traces) == []
    assert _blob_files(p) == []  # both files involved the client
    log = p.server.log_path.read_bytes()
    assert [label for label, values in traces.items() if any(v in log for v in values)] == []
    # Entries stay (the chain verifies) but the client's pseudonym key is gone.
    assert _count(db, "SELECT COUNT(*) FROM audit_log") > audit_before
    assert _count(db, "SELECT COUNT(*) FROM audit_account_keys") == keys_before - 1  # the client's
    result = _verify_cli(p.server.data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit chain OK" in result.stdout
    assert (p.server.data_dir / "audit-pseudonym.key").stat().st_mode & 0o077 == 0


async def test_an_erasure_killed_midway_is_finished_at_the_next_start(practice: Practice) -> None:
    p = practice
    await _converse(p)
    client, db, srv = p.client, p.server.db_path, p.server
    traces = _traces(client)
    srv.stop()
    srv.env[PAUSE_ENV] = "devices"  # test-only hook: stop for ever after the devices store
    await srv.start_async()

    erasing = asyncio.create_task(erase_account_as_admin(p.admin, client.account_id))
    marker = srv.data_dir / "erasure-paused"
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the erasure never reached the pause"
        assert not erasing.done(), erasing
        await asyncio.sleep(0.05)
    srv.kill()
    with pytest.raises((TransportError, ApiError, aiohttp.ClientError)):
        await erasing
    # Half done: the devices are gone, the account row and the job are still there.
    assert _count(db, "SELECT COUNT(*) FROM erasure_jobs") == 1
    assert _count(db, f"SELECT COUNT(*) FROM accounts WHERE account_id = '{client.account_id}'") == 1
    assert _count(db, f"SELECT COUNT(*) FROM devices WHERE account_id = '{client.account_id}'") == 0

    del srv.env[PAUSE_ENV]
    marker.unlink()
    await srv.start_async()
    deadline = time.monotonic() + 30
    while _count(db, "SELECT COUNT(*) FROM erasure_jobs"):
        assert time.monotonic() < deadline, "the interrupted erasure was not finished after the restart"
        await asyncio.sleep(0.05)
    srv.stop()
    assert _table_leaks(db, traces) == []
    assert _blob_files(p) == []
    result = _verify_cli(srv.data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
