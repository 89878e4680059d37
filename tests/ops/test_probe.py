"""`confidant probe` is what an operator runs from cron: one line, exit 0 when a message really went through
the relay end to end, a clear non-zero verdict naming the failed step otherwise."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import aiohttp
import pytest

from server.cli import build_parser
from server.probe import run_probe
from tests.fixtures.coturn_proc import Coturn, coturn  # noqa: F401  (fixture)
from tests.fixtures.server_proc import CONFIDANT
from tests.fixtures.webrtc import loopback_ice  # noqa: F401  (fixture)
from tests.ops.conftest import Relay, relay_server


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
                                  f"--invitation={used}")
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


@pytest.mark.webrtc
async def test_probe_places_a_call_through_turn(
    tmp_path: Path, coturn: Coturn, loopback_ice: None  # noqa: F811
) -> None:
    server = relay_server(tmp_path, env={"CONFIDANT_TURN_URLS": coturn.url,
                                         "CONFIDANT_TURN_SECRET": coturn.secret})
    await server.start_async()
    try:
        lines: list[str] = []
        args = build_parser().parse_args([
            "probe", "--url", server.url, "--state", str(tmp_path / "state"), "--call", "--relay-only",
            "--bootstrap-data-dir", str(server.data_dir)])
        status = await asyncio.to_thread(run_probe, args, lines.append)  # in-process: loopback ICE applies
        assert status == 0, lines
        assert re.fullmatch(r"PROBE OK .* call=ok connect_ms=\d+ via=turn", lines[0]), lines
        async with aiohttp.ClientSession() as http, http.get(server.metrics_url) as resp:
            metrics = await resp.text()
        assert re.search(r"^confidant_turn_credentials_issued_total [1-9]", metrics, re.M)
        assert 'confidant_audit_entries_total{event="session_admitted"} 1.0' in metrics
        assert 'confidant_audit_entries_total{event="session_ended"} 1.0' in metrics
        joined = r'^confidant_socket_events_total\{event="call.join",outcome="ok"\} [1-9]'
        assert re.search(joined, metrics, re.M)
    finally:
        server.stop()
