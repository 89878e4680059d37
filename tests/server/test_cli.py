"""The `confidant` command: help, operator invitations, and `serve` printing the first admin link."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from server.cli import _settings, build_parser
from tests.fixtures.ports import free_port

CONFIDANT = str(Path(sys.executable).parent / "confidant")
LINK = re.compile(r"^http://127\.0\.0\.1:\d+/#/join/([A-Za-z0-9_-]{20,})$", re.M)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONFIDANT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_help_documents_commands_and_flags() -> None:
    top = _run("--help")
    assert top.returncode == 0 and "serve" in top.stdout and "admin" in top.stdout
    serve = _run("serve", "--help").stdout
    for flag in (
        "--host",
        "--port",
        "--data-dir",
        "--log-level",
        "--config",
        "--public-url",
        "--web-root",
        "--turn-url",
        "--turn-secret",
        "--trusted-proxy",
        "--metrics-host",
        "--metrics-port",
        "--log-requests",
    ):
        assert flag in serve
    assert "--role" in _run("admin", "invite", "--help").stdout


def test_bootstrap_and_invite_print_links_never_log_them(tmp_path: Path) -> None:
    first = _run("admin", "bootstrap", "--data-dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    code = LINK.search(first.stdout)
    assert code is not None and code.group(1) not in first.stderr
    invite = _run("admin", "invite", "--role", "therapist", "--data-dir", str(tmp_path))
    assert invite.returncode == 0 and LINK.search(invite.stdout)


def test_configuration_errors_exit_2() -> None:
    bad = _run("serve", "--port", "99999")
    assert bad.returncode == 2 and "port must be between" in bad.stderr
    no_secret = _run("serve", "--turn-url", "turn:turn.example.org:3478")
    assert no_secret.returncode == 2 and "turn_secret" in no_secret.stderr
    not_turn = _run("serve", "--turn-url", "stun:turn.example.org", "--turn-secret", "s")
    assert not_turn.returncode == 2 and "turn_urls must be TURN URLs" in not_turn.stderr
    same = _run("serve", "--port", "9000", "--metrics-port", "9000")
    assert same.returncode == 2 and "metrics_port must differ from port" in same.stderr


def test_a_busy_metrics_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        port = str(free_port())
        out = _run("serve", "--port", port, "--metrics-port", str(taken), "--data-dir", str(tmp_path))
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken} for /metrics" in out.stderr


async def test_log_requests_adds_one_info_line_per_request(tmp_path: Path) -> None:
    from tests.fixtures.server_proc import ConfidantServer

    server = ConfidantServer(tmp_path / "data", log_level="info", extra_args=["--log-requests"])
    await server.start_async()
    try:
        async with aiohttp.ClientSession() as session, session.get(server.url + "/api/v1/me") as r:
            assert r.status == 401
    finally:
        server.stop()
    lines = [json.loads(x) for x in server.log_text().splitlines() if x.startswith("{")]
    requests = [x for x in lines if x["msg"] == "request" and x["route"] == "/api/v1/me"]
    assert [(x["level"], x["status"]) for x in requests] == [("info", 401)]


def test_turn_and_proxy_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIDANT_TURN_URLS", "turn:env.example.org:3478")
    monkeypatch.setenv("CONFIDANT_TURN_SECRET", "from-env")
    monkeypatch.setenv("CONFIDANT_TRUSTED_PROXIES", "192.168.0.0/16")
    args = build_parser().parse_args(["serve"])
    env_only = _settings(args)
    assert (env_only.turn_urls, env_only.turn_secret) == (("turn:env.example.org:3478",), "from-env")
    args = build_parser().parse_args(
        [
            "serve",
            "--turn-url", "turn:a.example.org:3478?transport=udp",
            "--turn-url", "turns:a.example.org:5349?transport=tcp",
            "--turn-secret", "from-flag",
            "--trusted-proxy", "10.0.0.0/8",
            "--trusted-proxy", "fd00::/8",
        ]
    )  # fmt: skip
    s = _settings(args)
    assert s.turn_urls == ("turn:a.example.org:3478?transport=udp", "turns:a.example.org:5349?transport=tcp")
    assert (s.turn_secret, s.trusted_proxies) == ("from-flag", ("10.0.0.0/8", "fd00::/8"))


async def test_serve_prints_admin_link_on_empty_database(tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        CONFIDANT,
        "serve",
        "--port",
        str(port),
        "--metrics-port",
        str(free_port()),
        "--data-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = ""
        while "#/join/" not in line:
            raw = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert raw, "serve exited before printing the admin link"
            line = raw.decode()
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/readyz") as r:
            assert r.status == 200
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/api/v1/me") as r:
            assert r.status == 401
    finally:
        proc.terminate()
        rest, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    # Framed, and the last thing printed: nothing (no request log) buries it.
    assert re.fullmatch(r"\| http://\S+/#/join/\S+ +\|\n", line), line
    assert re.fullmatch(r"\+-+\+\n", rest.decode()), rest
    assert b'"msg":"request"' not in stderr  # request lines only with --log-requests (or at debug level)
    joined = re.search(r"#/join/([A-Za-z0-9_-]+)", line)
    assert joined is not None
    code = joined.group(1)
    assert code.encode() not in stderr  # the log never carries the code
    for log_line in stderr.decode().splitlines():
        assert log_line.startswith("{"), log_line  # structured JSON, one object per line


def test_serve_refuses_a_protocol_version_1_database_in_one_sentence(tmp_path: Path) -> None:
    import sqlite3

    from storage.errors import PROTOCOL_V1_REFUSED
    from storage.sqlite import DATABASE_FILE
    from storage.sqlite.schema import MIGRATIONS

    conn = sqlite3.connect(tmp_path / DATABASE_FILE)
    for script in MIGRATIONS[:4]:  # what protocol version 1 wrote
        conn.executescript(script)
    conn.execute("PRAGMA user_version=4")
    conn.close()
    refused = _run("serve", "--data-dir", str(tmp_path), "--port", str(free_port()))
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"confidant: {PROTOCOL_V1_REFUSED}"
