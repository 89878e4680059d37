"""The HTTP edge: malformed bytes get a 4xx with a stable code (never a 500 or an error log), HEAD works
wherever GET does, undeclared methods get 405 with Allow, /metrics is not on the public listener, the CSP
keeps websockets to this origin, and per-IP limits count an IPv6 client's whole /64."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from server.app import build_app
from server.config import Settings
from server.http.middleware import CSP
from server.http.protocol import EdgeRunner
from server.services.ratelimit import rate_subject
from tests.fixtures.ports import free_port
from tests.server._kit import API
from tests.server.conftest import Server


async def _raw(server: Server, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes no HTTP client library would produce; return (status, headers, body)."""
    url = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        line, _, rest = request.partition(b"\r\n")
        writer.write(line + b"\r\nConnection: close\r\n" + rest)  # read to EOF below
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_body_that_is_not_utf8_is_a_bad_request(server: Server, caplog: Any) -> None:
    r = await server.http.call("POST", f"{API}/auth/challenge", raw=b'{"device_id": "\xff\xfe"}')
    assert r.status == 400 and r.body["error"]["code"] == "bad_request", r.body
    r = await server.http.call("POST", f"{API}/auth/challenge", raw=b"\xc3\x28")
    assert r.status == 400 and r.body["error"]["code"] == "bad_request", r.body
    assert _errors(caplog) == []


@pytest.mark.parametrize("path", ["/index.html%00.js", "/%01", f"{API}/me%7f", "/healthz%0d%0aX:%20y"])
async def test_control_bytes_in_a_decoded_path_are_refused(server: Server, caplog: Any, path: str) -> None:
    status, headers, body = await _raw(server, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 400, body
    assert json.loads(body)["error"]["code"] == "bad_request"
    assert headers["content-security-policy"] == CSP
    assert _errors(caplog) == []


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",  # control byte in a header value
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\x00b\r\n\r\n",  # NUL in a header value
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX\x7fA: b\r\n\r\n",  # DEL in a header name
        b"GET /health\x00z HTTP/1.1\r\nHost: x\r\n\r\n",  # raw NUL in the request line
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    ],
)
async def test_malformed_http_gets_the_api_error_shape(
    server: Server, caplog: Any, request_bytes: bytes
) -> None:
    status, headers, body = await _raw(server, request_bytes)
    assert status == 400, body
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "bad_request"
    assert _errors(caplog) == []


async def test_head_works_wherever_get_does(server: Server) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json"):
        status, headers, body = await _raw(server, f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert status == 200 and body == b"", path
        assert "x-request-id" in headers


async def test_an_undeclared_method_is_405_with_allow(server: Server) -> None:
    r = await server.http.call("DELETE", "/healthz")
    assert r.status == 405 and r.body["error"]["code"] == "method_not_allowed", r.body
    assert set(r.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
    r = await server.http.call("PATCH", f"{API}/messages")
    assert r.status == 405 and "POST" in r.headers["Allow"]


@pytest.mark.parametrize("path", ["/metrics", "/%6detrics", "/METRICS", "//metrics", "/metrics/"])
async def test_metrics_are_not_on_the_public_listener(server: Server, path: str) -> None:
    status, _, body = await _raw(server, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 404, (path, body)
    assert b"confidant_" not in body


async def test_csp_allows_websockets_to_this_origin_only(server: Server) -> None:
    r = await server.http.call("GET", "/healthz")
    directives = {d.split()[0]: d.split()[1:] for d in r.headers["Content-Security-Policy"].split("; ")}
    assert directives["connect-src"] == ["'self'"]


def test_ipv6_clients_are_counted_per_64() -> None:
    a, b = rate_subject("2001:db8:1:2:aaaa::1"), rate_subject("2001:db8:1:2:ffff:1:2:3")
    assert a == b == "2001:db8:1:2::/64"
    assert rate_subject("2001:db8:1:3::1") != a
    assert rate_subject("::ffff:192.0.2.7") == "192.0.2.7"
    assert rate_subject("192.0.2.7") == "192.0.2.7"


async def test_rotating_ipv6_addresses_does_not_escape_the_redeem_limit(server: Server) -> None:
    limit, _ = server.ctx.services.limiter.rules["redeem_per_ip"] = (3, 60.0)
    statuses = []
    for host in range(limit + 1):  # a new address of the same /64 for every attempt
        ip = f"2001:db8:0:7::{host + 1:x}"
        try:
            await server.ctx.services.limiter.check("redeem_per_ip", ip)
            statuses.append("ok")
        except Exception as exc:
            statuses.append(type(exc).__name__)
    assert statuses == ["ok"] * limit + ["RateLimited"]


async def test_head_and_nul_on_the_web_client(tmp_path: Path) -> None:
    """HEAD / is what uptime monitors send; a NUL in a file name never reaches the file system."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Confidant</title>")
    (root / "assets" / "app.js").write_text("console.log('hi')")
    port = free_port()
    built = build_app(Settings(port=port, data_dir=tmp_path / "data", web_root=root))
    built.ctx.background.clear()
    runner = EdgeRunner(built.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session:
            for path in ("/", "/assets/app.js"):
                async with session.head(f"http://127.0.0.1:{port}{path}") as r:
                    assert r.status == 200, path
                    assert await r.read() == b""
            for path in ("/index.html%00.js", "/assets/app.js%00"):
                async with session.get(f"http://127.0.0.1:{port}{path}") as r:
                    assert r.status == 400 and (await r.json())["error"]["code"] == "bad_request", path
    finally:
        await runner.cleanup()
