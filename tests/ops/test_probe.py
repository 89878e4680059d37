"""`confidant probe` is what an operator runs from cron: one line, exit 0 when a message really went through
the relay end to end, a clear non-zero verdict naming the failed step otherwise."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from tests.fixtures.server_proc import CONFIDANT
from tests.ops.conftest import Relay


def _probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONFIDANT), "probe", *args], capture_output=True, text=True, timeout=120)


async def test_probe_succeeds_against_a_healthy_relay_and_reuses_its_accounts(relay: Relay) -> None:
    state = relay.root / "probe-state"
    first = await asyncio.to_thread(_probe, "--url", relay.url, "--state", str(state),
                                    "--bootstrap-data-dir", str(relay.server.data_dir))
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.startswith("PROBE OK") and first.stdout.count("\n") == 1
    assert "c2t_deliver_ms=" in first.stdout and "t2c_deliver_ms=" in first.stdout
    overview = await relay.call("GET", "/api/v1/admin/overview", relay.admin)
    assert overview.body["accounts"] == {"admin": 1, "therapist": 2, "client": 2}  # the probe pair

    again = await asyncio.to_thread(_probe, "--url", relay.url, "--state", str(state))
    assert again.returncode == 0 and again.stdout.startswith("PROBE OK"), again.stdout + again.stderr
    overview = await relay.call("GET", "/api/v1/admin/overview", relay.admin)
    assert overview.body["accounts"]["therapist"] == 2  # no new accounts on later runs
    assert await relay.value("confidant_envelopes_delivered_total") >= 4


async def test_probe_fails_clearly(relay: Relay, tmp_path: Path) -> None:
    used = relay.codes[1]  # the therapist's invitation: already redeemed
    bad = await asyncio.to_thread(_probe, "--url", relay.url, "--state", str(tmp_path / "s1"),
                                  "--invitation", used)
    assert bad.returncode == 1
    assert bad.stdout.strip() == f"PROBE FAIL step=register url={relay.url} reason=invitation_invalid"

    missing = await asyncio.to_thread(_probe, "--url", relay.url, "--state", str(tmp_path / "s2"))
    assert missing.returncode == 2 and missing.stdout.startswith("PROBE FAIL step=setup")

    state = tmp_path / "s3"
    ok = await asyncio.to_thread(_probe, "--url", relay.url, "--state", str(state),
                                 "--bootstrap-data-dir", str(relay.server.data_dir))
    assert ok.returncode == 0, ok.stdout
    relay.server.kill()
    down = await asyncio.to_thread(_probe, "--url", relay.url, "--state", str(state), "--timeout", "3")
    assert down.returncode == 1
    assert down.stdout.startswith(f"PROBE FAIL step=readyz url={relay.url} reason=unreachable")
