"""Browser tests: real Chromium (Debian's, via Playwright) against a real `confidant serve` child process.

Run inside a private network namespace with only loopback (see the Makefile): WebRTC between two
browser contexts then uses 127.0.0.1 host candidates (``--allow-loopback-in-peer-connection``).
Screenshots go to ``test-artifacts/browser/`` (git-ignored).

One Chromium serves the whole session (starting Playwright's driver and Chromium cost seconds per test); each
test gets fresh browser contexts (no cookies, storage or service workers shared) and the contexts it leaves
open are closed after it. Playwright objects belong to the event loop that created them, so the browser tests
and their async fixtures run on pytest-asyncio's session loop (``LOOP``): a module's own async fixture says
``@pytest_asyncio.fixture(loop_scope=LOOP)``.
"""

from __future__ import annotations

import inspect
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Playwright, async_playwright, expect

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
LOOP: Final = "session"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run on the session's event loop, where the shared Chromium lives (the marker goes
    first: pytest-asyncio reads the closest one)."""
    for item in items:
        function = getattr(item, "function", None)
        if HERE in item.path.parents and function is not None and inspect.iscoroutinefunction(function):
            item.add_marker(pytest.mark.asyncio(loop_scope=LOOP), append=False)


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


@pytest_asyncio.fixture(loop_scope=LOOP)
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


@pytest_asyncio.fixture(scope="session", loop_scope=LOOP)
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@pytest_asyncio.fixture(scope="session", loop_scope=LOOP)
async def _chromium(playwright: Playwright) -> AsyncIterator[list[Browser]]:
    """The session's Chromium, in a one-item list: `browser` replaces it if a test left it disconnected."""
    shared = [await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)]
    try:
        yield shared
    finally:
        await shared[0].close()


@pytest_asyncio.fixture(loop_scope=LOOP)
async def browser(playwright: Playwright, _chromium: list[Browser]) -> AsyncIterator[Browser]:
    """The shared Chromium; every context a test opened is closed after it, so the next test starts clean."""
    if not _chromium[0].is_connected():
        _chromium[0] = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    b = _chromium[0]
    assert b.contexts == [], "a browser context outlived the test before"
    try:
        yield b
    finally:
        for context in list(b.contexts):
            await context.close()


@pytest.fixture(autouse=True)
def _pages_close_before_the_server_stops(request: pytest.FixtureRequest) -> None:
    """Set up what the test needs besides its browser first, so it is torn down after the browser's contexts
    are closed: a server stopped under open pages waits out its shutdown bound for their websockets."""
    for name in request.fixturenames:
        if "browser" not in name and name != request.fixturename:
            request.getfixturevalue(name)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
