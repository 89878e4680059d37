"""The records custodian end to end (docs/OPERATIONS.md, "Records custodian"), on a real server that is also
the adversary (tests/fixtures/hostile_relay.py): the practice's offline key opens a departed therapist's notes
after the therapist's account is erased; notes are sealed to it only when the custodian is on AND the terms
the client accepted disclose that same key; a key swapped in by the operator is refused by the device."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from client._wire import b64e
from client.custodian import Custodian, CustodianStatus, disclosure
from client.ending import erase_account_as_admin
from client.errors import ApiError
from client.vault import Vault
from crypto import custodian as cu
from tests.e2e.conftest import TERMS, Practice
from tests.fixtures.hostile_relay import HostileControl, HostileServer
from tests.fixtures.server_proc import CONFIDANT, ConfidantServer

NOW = 1_800_000_000_000


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ConfidantServer]:
    srv = HostileServer(tmp_path / "data", log_path=tmp_path / "server.log")
    await srv.start_async()
    try:
        yield srv
    finally:
        srv.stop()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONFIDANT), "custodian", *args], capture_output=True, text=True, timeout=60)


def _keygen(path: Path) -> bytes:
    done = _cli("keygen", "--out", str(path))
    assert done.returncode == 0, done.stderr
    assert path.stat().st_mode & 0o077 == 0  # the private key file is the operator's alone
    assert _cli("keygen", "--out", str(path)).returncode == 1  # never overwritten
    public = re.search(r"public key:\s+(\S+)", done.stdout)
    assert public is not None and cu.custodian_fingerprint(cu.decode_public_key(public[1])) in done.stdout
    return cu.decode_public_key(public[1])


def _copies(db: Path) -> list[tuple[str, str, int, bytes]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT account_id, record_id, version, ciphertext FROM custodian_copies"
        ).fetchall()
        return sorted((a, r, int(v), bytes(c)) for a, r, v, c in rows)
    finally:
        conn.close()


def _count(db: Path, sql: str, *args: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql, args).fetchone()[0])
    finally:
        conn.close()


async def test_the_offline_key_opens_a_departed_therapists_disclosed_notes_only(
    practice: Practice, tmp_path: Path
) -> None:
    p = practice
    db, therapist, client = p.server.db_path, p.therapist, p.client
    public = _keygen(tmp_path / "custodian.key")
    vault, custodian = Vault.of(therapist), Custodian.of(therapist)
    await client.accept_terms(therapist.account_id)  # TERMS: no custodian disclosed

    async def note(text: str, **kw: object) -> CustodianStatus:
        saved = await custodian.save_note(vault, client.account_id, text, now=NOW, **kw)
        return saved.custodian

    assert await note("Written while the custodian is off.") is CustodianStatus.OFF
    with pytest.raises(ApiError) as refused:  # a therapist cannot configure it; an admin can
        await therapist.api.request("PUT", "/admin/custodian", {"public_key": b64e(public)})
    assert refused.value.code == "forbidden"
    await p.admin.api.request("PUT", "/admin/custodian", {"public_key": b64e(public)})
    assert await note("Accepted terms say nothing of a custodian.") is CustodianStatus.NOT_DISCLOSED

    paragraph = await disclosure(therapist.api)
    assert paragraph is not None and cu.custodian_fingerprint(public) in paragraph
    await therapist.publish_terms(TERMS + "\n\n" + paragraph)
    assert await note("New terms published, not yet accepted.") is CustodianStatus.NOT_ACCEPTED
    assert _copies(db) == []  # nothing so far was sealed to the custodian

    await client.accept_terms(therapist.account_id)
    first = await custodian.save_note(vault, client.account_id, "Sleep better; panic twice.", now=NOW)
    assert first.custodian is CustodianStatus.SEALED
    await custodian.save_note(
        vault,
        client.account_id,
        "Sleep better; panic once.",
        note_id=first.saved.entry.record_id,
        now=NOW + 1,
    )
    second = await custodian.save_note(vault, client.account_id, "Talked about her sister.", now=NOW + 2)
    gone = await custodian.save_note(vault, client.account_id, "Typed in the wrong file.", now=NOW + 3)
    await custodian.delete_note(vault, gone.saved.entry.record_id)
    stored = _copies(db)
    assert [(r, v) for _, r, v, _ in stored] == sorted(
        [(first.saved.entry.record_id, 2), (second.saved.entry.record_id, 1)]
    )
    assert all(b"Sleep" not in c and b"sister" not in c for *_, c in stored)  # opaque to the server

    # The therapist leaves; the practice erases the account. The copies stay, the vault goes.
    await erase_account_as_admin(p.admin, therapist.account_id)
    deadline = time.monotonic() + 30
    while _count(db, "SELECT COUNT(*) FROM accounts WHERE account_id = ?", therapist.account_id):
        assert time.monotonic() < deadline, "the therapist's erasure did not finish"
        await asyncio.sleep(0.05)
    assert _count(db, "SELECT COUNT(*) FROM vault_records WHERE account_id = ?", therapist.account_id) == 0
    assert len(_copies(db)) == 2

    export = tmp_path / "copies.json"
    done = _cli(
        "export",
        "--data-dir",
        str(p.server.data_dir),
        "--account",
        therapist.account_id,
        "--out",
        str(export),
    )
    assert done.returncode == 0, done.stderr
    assert b"Sleep" not in export.read_bytes()  # the export is still sealed
    opened = _cli("open", "--key", str(tmp_path / "custodian.key"), str(export))
    assert opened.returncode == 0, opened.stderr
    notes = json.loads(opened.stdout)["notes"]
    assert sorted(n["note"]["text"] for n in notes) == [
        "Sleep better; panic once.",
        "Talked about her sister.",
    ]
    assert {n["note"]["client"] for n in notes} == {client.account_id}

    # Nothing else opens them: another custodian key gets nothing.
    _keygen(tmp_path / "other.key")
    wrong = _cli("open", "--key", str(tmp_path / "other.key"), str(export))
    assert wrong.returncode == 3 and json.loads(wrong.stdout)["notes"] == []

    assert (
        _cli("purge", "--data-dir", str(p.server.data_dir), "--account", therapist.account_id).returncode == 0
    )
    assert _copies(db) == []


async def test_a_custodian_key_or_terms_text_swapped_by_the_operator_is_refused(
    practice: Practice, tmp_path: Path
) -> None:
    p = practice
    public = _keygen(tmp_path / "custodian.key")
    vault, custodian = Vault.of(p.therapist), Custodian.of(p.therapist)
    await p.admin.api.request("PUT", "/admin/custodian", {"public_key": b64e(public)})
    paragraph = await disclosure(p.therapist.api)
    assert paragraph is not None
    await p.therapist.publish_terms(TERMS + "\n\n" + paragraph)
    await p.client.accept_terms(p.therapist.account_id)

    _, operators = cu.new_custodian_keypair()
    relay = HostileControl(p.server.url)
    await relay.command("swap_custodian_key", {"public_key": b64e(operators)})
    saved = await custodian.save_note(vault, p.client.account_id, "Not for the operator.", now=NOW)
    assert saved.custodian is CustodianStatus.KEY_MISMATCH  # the terms the client accepted pin another key
    # The operator also serves the therapist terms that disclose its key: the client never signed that text.
    forged = TERMS + "\n\n" + cu.disclosure_text(operators)
    await relay.command("rewrite_terms", {"therapist_id": p.therapist.account_id, "text": forged})
    saved = await custodian.save_note(vault, p.client.account_id, "Still not for the operator.", now=NOW + 1)
    assert saved.custodian is CustodianStatus.UNVERIFIED
    assert _copies(p.server.db_path) == []
    # The notes themselves are kept, the therapist's alone.
    texts = [n.body["text"] for n in vault.notes(p.client.account_id)]
    assert texts == ["Still not for the operator.", "Not for the operator."]
