"""Browser tests: real Chromium (Debian's, via Playwright) against a real `confidant serve` child process.

Run inside a private network namespace with only loopback (see the Makefile): WebRTC between two
browser contexts then uses 127.0.0.1 host candidates (``--allow-loopback-in-peer-connection``).
Screenshots go to ``test-artifacts/browser/`` (git-ignored).
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.fixtures.server_proc import ConfidantServer

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
expect.set_options(timeout=15_000)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The built web client (scripts/build-web.sh is a no-op when the build is current).

    Dependencies must already be installed (`make web`, outside the test sandbox, which has no network):
    an `npm ci` here could only fail, after emptying node_modules.
    """
    web = REPO / "web-client"
    modules, lock = web / "node_modules", web / "package-lock.json"
    if not modules.is_dir() or lock.stat().st_mtime > modules.stat().st_mtime:
        pytest.fail("web-client dependencies missing or older than package-lock.json: run `make web` first")
    subprocess.run(["sh", "scripts/build-web.sh"], cwd=REPO, check=True, timeout=300)
    dist = REPO / "web-client" / "dist"
    assert (dist / "index.html").is_file(), "web client build missing"
    return dist


@pytest.fixture
async def server(
    request: pytest.FixtureRequest, tmp_path: Path, web_dist: Path
) -> AsyncIterator[ConfidantServer]:
    """The server serving the web client; a module sets ``SERVER_CLASS`` (e.g. the hostile relay's
    ``HostileServer``: the same app and arguments, plus the operator's powers) to run against another."""
    cls: type[ConfidantServer] = getattr(request.module, "SERVER_CLASS", ConfidantServer)
    srv = cls(tmp_path / "data", extra_args=["--web-root", str(web_dist)])
    await srv.start_async()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
