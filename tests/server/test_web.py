"""The browser client's files at `/`, under a strict CSP, never shadowing the API."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from server.app import build_app
from server.config import Settings
from server.http.middleware import CSP
from server.http.web import IMMUTABLE, REVALIDATE, negotiate_encoding
from tests.fixtures.ports import free_port


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Confidant</title>")
    (root / "assets" / "app.js").write_text("console.log('hi')")
    # Precompressed copies as the build writes them (contents differ so the test sees which one was sent).
    (root / "assets" / "app.js.br").write_bytes(b"BROTLI-COPY")
    (root / "assets" / "app.js.gz").write_bytes(gzip.compress(b"console.log('gzip')"))
    (root / "assets" / "sodium.wasm").write_bytes(b"\0asm\1\0\0\0")
    (tmp_path / "secret.txt").write_text("outside the web root")
    port = free_port()
    built = build_app(Settings(port=port, data_dir=tmp_path / "data", web_root=root))
    built.ctx.background.clear()
    runner = web.AppRunner(built.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_static_files_with_security_headers(site: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(site + "/") as r:
            assert r.status == 200 and "Confidant" in await r.text()
            assert r.headers["Content-Security-Policy"] == CSP
            assert "frame-ancestors 'none'" in CSP and "script-src 'self' 'wasm-unsafe-eval'" in CSP
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["X-Frame-Options"] == "DENY"
            assert r.headers["Referrer-Policy"] == "no-referrer"
        async with session.get(site + "/assets/app.js") as r:
            assert r.status == 200 and "console.log" in await r.text()
        for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/missing.js"):
            async with session.get(site + path) as r:
                assert r.status == 404, path
                assert "outside the web root" not in await r.text()
        async with session.get(site + "/api/v1/nothing") as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"
        async with session.get(site + "/healthz") as r:
            assert r.status == 200 and r.headers["Content-Security-Policy"] == CSP


async def test_hsts_only_when_served_over_https(tmp_path: Path) -> None:
    for public_url, expected in (("https://confidant.example", True), ("", False)):
        port = free_port()
        settings = Settings(
            port=port, data_dir=tmp_path / f"data{port}", web_root=None, public_url=public_url
        )
        built = build_app(settings)
        built.ctx.background.clear()
        runner = web.AppRunner(built.app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/healthz") as r,
            ):
                assert ("Strict-Transport-Security" in r.headers) is expected
        finally:
            await runner.cleanup()


async def test_precompressed_copies_by_accept_encoding_and_cache_policy(site: str) -> None:
    # auto_decompress off: we look at the bytes and headers exactly as the server sent them.
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        cases = [
            ("gzip, deflate, br, zstd", "br", b"BROTLI-COPY"),
            ("gzip", "gzip", None),
            ("br;q=0, gzip;q=0.5", "gzip", None),
            ("gzip;q=0.4, br;q=0.9", "br", b"BROTLI-COPY"),
            ("identity", None, b"console.log('hi')"),
            ("", None, b"console.log('hi')"),
        ]
        for accept, coding, body in cases:
            async with session.get(site + "/assets/app.js", headers={"Accept-Encoding": accept}) as r:
                assert r.status == 200, accept
                assert r.headers.get("Content-Encoding") == coding, accept
                assert r.headers["Vary"] == "Accept-Encoding"
                assert r.headers["Cache-Control"] == IMMUTABLE
                assert r.headers["Content-Type"].startswith("text/javascript")
                raw = await r.read()
                if coding == "gzip":
                    assert gzip.decompress(raw) == b"console.log('gzip')"
                else:
                    assert raw == body
        async with session.get(site + "/assets/sodium.wasm") as r:
            assert r.headers["Content-Type"] == "application/wasm"  # instantiateStreaming needs it
            assert r.headers["Cache-Control"] == IMMUTABLE and "Content-Encoding" not in r.headers
        for path in ("/", "/index.html"):
            async with session.get(site + path) as r:
                assert r.headers["Cache-Control"] == REVALIDATE, path
        # The copies are reachable only through negotiation.
        async with session.get(site + "/assets/app.js.br") as r:
            assert r.status == 404


def test_negotiation_follows_q_values() -> None:
    both = {"br", "gzip"}
    assert negotiate_encoding("br, gzip", both) == "br"
    assert negotiate_encoding("*", both) == "br"
    assert negotiate_encoding("*;q=0, gzip", both) == "gzip"
    assert negotiate_encoding("br;q=0", both) is None
    assert negotiate_encoding("br;q=bogus, gzip", both) == "gzip"
    assert negotiate_encoding("br", {"gzip"}) is None
