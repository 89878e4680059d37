"""Per-IP rate limits behind a reverse proxy: X-Forwarded-For counts only when a trusted proxy sent it."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from server.app import build_app
from server.config import Settings
from server.http.forwarded import TrustedProxies
from tests.fixtures.ports import free_port
from tests.server._kit import API


@contextlib.asynccontextmanager
async def _serve(tmp_path: Path, trusted: tuple[str, ...]) -> AsyncIterator[str]:
    port = free_port()
    settings = Settings(
        host="127.0.0.1", port=port, data_dir=tmp_path / "data", web_root=None, trusted_proxies=trusted
    )
    built = build_app(settings)
    built.ctx.background.clear()
    built.ctx.services.limiter.rules["challenge_per_ip"] = (2, 60.0)
    runner = web.AppRunner(built.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _challenge(session: aiohttp.ClientSession, url: str, forwarded_for: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    # A fresh unknown device each time: only the per-IP rule can refuse it (429); otherwise 404.
    body = {"device_id": secrets.token_hex(16)}
    async with session.post(f"{url}{API}/auth/challenge", json=body, headers=headers) as r:
        return r.status


async def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    # Proxies are configured, but the test client (127.0.0.1) is not one of them.
    async with _serve(tmp_path, ("10.0.0.0/8",)) as url, aiohttp.ClientSession() as session:
        first = await _challenge(session, url, "203.0.113.1")
        second = await _challenge(session, url, "203.0.113.2")
        assert first != 429 and second != 429
        # A new forged address each time does not buy a new bucket: the peer's is full.
        assert await _challenge(session, url, "203.0.113.3") == 429
        assert await _challenge(session, url, None) == 429


async def test_a_trusted_proxys_header_keys_the_limits_by_the_client(tmp_path: Path) -> None:
    async with _serve(tmp_path, ("127.0.0.0/8", "10.0.0.0/8")) as url, aiohttp.ClientSession() as session:
        # Client 198.51.100.7 behind two proxies (10.1.2.3, then the peer); what the client wrote on the left
        # of its own address changes every time and is ignored.
        for spoofed in ("192.0.2.1", "192.0.2.2"):
            assert await _challenge(session, url, f"{spoofed}, 198.51.100.7, 10.1.2.3") != 429
        assert await _challenge(session, url, "192.0.2.3, 198.51.100.7, 10.1.2.3") == 429
        # Another client behind the same proxy has its own bucket, and so has the proxy itself.
        assert await _challenge(session, url, "198.51.100.8") != 429
        assert await _challenge(session, url, None) != 429


@pytest.mark.parametrize(
    "peer, headers, expected",
    [
        ("198.51.100.9", ["203.0.113.1"], "198.51.100.9"),  # untrusted peer: its header is ignored
        ("10.0.0.1", [], "10.0.0.1"),  # a trusted peer without the header is the client
        ("10.0.0.1", ["203.0.113.1, 10.0.0.2"], "203.0.113.1"),
        ("10.0.0.1", ["192.0.2.1", "203.0.113.1"], "203.0.113.1"),  # several headers read as one list
        ("10.0.0.1", ["10.0.0.7, 10.0.0.2"], "10.0.0.7"),  # all hops trusted: the left-most one
        ("10.0.0.1", ["junk, 10.0.0.2"], "10.0.0.2"),  # malformed: counted against the hop that passed it
        ("10.0.0.1", ["203.0.113.1:4711"], "203.0.113.1"),
        ("10.0.0.1", ["[2001:db8::1]:4711"], "2001:db8::1"),
        ("::ffff:10.0.0.1", ["2001:db8::2"], "2001:db8::2"),  # an IPv4 peer seen on a dual-stack socket
    ],
)
def test_the_right_most_untrusted_address_is_the_client(peer: str, headers: list[str], expected: str) -> None:
    assert TrustedProxies.parse(["10.0.0.0/8"]).client_ip(peer, headers) == expected
