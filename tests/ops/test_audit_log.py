"""The relay's audit log records the security events of a real run as one verifiable chain, each account
reads only its own entries, and an edit or a deletion made behind the relay's back is found at the right
entry, both by the admin endpoint and by `confidant admin verify-audit`."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path

from tests.fixtures.server_proc import CONFIDANT
from tests.ops.conftest import Relay

API = "/api/v1"


def _verify_cli(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONFIDANT), "admin", "verify-audit", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60)


def _tamper(db: Path, sql: str) -> None:
    """What someone with the database file could do: drop the append-only triggers, then rewrite."""
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute(sql)
    conn.commit()
    conn.close()


async def test_run_is_audited_and_each_account_sees_its_own(relay: Relay) -> None:
    verify = await relay.call("GET", f"{API}/admin/audit/verify", relay.admin)
    assert verify.status == 200 and verify.body["ok"] is True and verify.body["broken_at"] is None
    assert verify.body["entries"] == verify.body["head_seq"] >= 8

    client = (await relay.call("GET", f"{API}/audit/me", relay.client)).body["entries"]
    events = [e["event"] for e in client]
    assert events[-1] == "account_registered" and "consent_accepted" in events and "login" in events
    registered = client[-1]
    assert registered["details"] == {"device_id": relay.client.device_id, "role": "client"}
    assert all(e["details"].get("role", "client") == "client" for e in client)  # nobody else's entries
    therapist = (await relay.call("GET", f"{API}/audit/me", relay.therapist)).body["entries"]
    assert {e["seq"] for e in therapist}.isdisjoint({e["seq"] for e in client})
    page = await relay.call("GET", f"{API}/audit/me?limit=1&before={client[0]['seq']}", relay.client)
    assert [e["seq"] for e in page.body["entries"]] == [client[1]["seq"]]

    cli = await asyncio.to_thread(_verify_cli, relay.server.data_dir)
    assert cli.returncode == 0 and cli.stdout.startswith("audit chain OK"), cli.stdout + cli.stderr


async def test_an_edited_entry_is_reported_where_it_is(relay: Relay) -> None:
    _tamper(relay.server.db_path, "UPDATE audit_log SET event = 'login' WHERE seq = 3")
    verify = await relay.call("GET", f"{API}/admin/audit/verify", relay.admin)
    assert (verify.body["ok"], verify.body["broken_at"], verify.body["reason"]) == (False, 3, "hash_mismatch")
    cli = await asyncio.to_thread(_verify_cli, relay.server.data_dir)
    assert cli.returncode == 1 and "BROKEN at entry 3: hash_mismatch" in cli.stdout


async def test_a_deleted_entry_is_reported_where_it_was(relay: Relay) -> None:
    _tamper(relay.server.db_path, "DELETE FROM audit_log WHERE seq = 2")
    verify = await relay.call("GET", f"{API}/admin/audit/verify", relay.admin)
    assert (verify.body["ok"], verify.body["broken_at"], verify.body["reason"]) == (False, 2, "missing")
    cli = await asyncio.to_thread(_verify_cli, relay.server.data_dir)
    assert cli.returncode == 1 and "BROKEN at entry 2: missing" in cli.stdout
