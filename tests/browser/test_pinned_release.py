"""The pinned release (public/sw.js): the service worker pins the release it first saw, serves a repeat visit
without the network, takes a correctly signed update and says so, and refuses what a tampering proxy serves
(an altered bundle with an unsigned manifest, then one signed by another key): the pinned code keeps running
and the person is warned."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Page, expect

from crypto.primitives import ed25519_seed_keypair, ed25519_sign
from tests.browser._ui import shot
from tests.browser.conftest import LOOP, REPO
from tests.fixtures.ports import free_port
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

# The key scripts/build-web.sh signed the build with: the deployment's, or the local one it made.
RELEASE_KEY = Path(os.environ.get("CONFIDANT_RELEASE_KEY") or REPO / "web-client" / ".release-key")
MARK = "confidant-test-release"
TAMPER = b"\n;window.__tampered = true;\n"
SKIP_HEADERS = {"content-length", "content-encoding", "transfer-encoding", "connection"}


def sign(manifest: dict[str, object], seed: bytes) -> tuple[bytes, bytes]:
    text = (json.dumps(manifest, indent=1) + "\n").encode()
    _, secret = ed25519_seed_keypair(seed)
    return text, base64.b64encode(ed25519_sign(secret, text)) + b"\n"


def new_release(site: Path, version: str, built_at: str) -> None:
    """What an operator deploys: a changed page, its manifest re-signed at build time with the release key."""
    index = site / "index.html"
    index.write_text(
        index.read_text().replace("<head>", f'<head>\n    <meta name="{MARK}" content="{version}" />')
    )
    for stale in ("index.html.br", "index.html.gz"):
        (site / stale).unlink(missing_ok=True)
    manifest = json.loads((site / "release.json").read_text())
    manifest.update(version=version, built_at=built_at)
    manifest["files"]["/index.html"] = hashlib.sha256(index.read_bytes()).hexdigest()
    text, signature = sign(manifest, base64.b64decode(RELEASE_KEY.read_text()))
    (site / "release.json").write_bytes(text)
    (site / "release.sig").write_bytes(signature)


class TamperingProxy:
    """Passes everything through to the server, until told to swap the main bundle and its manifest."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.swap: dict[str, bytes] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {"Accept-Encoding": "identity"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(request.method, self.upstream + request.path_qs, headers=headers) as r,
        ):
            body = await r.read()
            out = {k: v for k, v in r.headers.items() if k.lower() not in SKIP_HEADERS}
            return web.Response(status=r.status, body=self.swap.get(request.path, body), headers=out)

    async def __aenter__(self) -> TamperingProxy:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


@pytest_asyncio.fixture(loop_scope=LOOP)
async def site(tmp_path: Path, web_dist: Path) -> AsyncIterator[tuple[Path, TamperingProxy]]:
    root = tmp_path / "site"
    shutil.copytree(web_dist, root)
    srv = ConfidantServer(tmp_path / "data", extra_args=["--web-root", str(root)])
    await srv.start_async()
    try:
        async with TamperingProxy(srv.url) as proxy:
            yield root, proxy
    finally:
        srv.stop()


async def running_release(page: Page) -> str | None:
    return await page.evaluate(f"() => document.querySelector('meta[name={MARK}]')?.content ?? null")


async def test_pins_takes_signed_update_refuses_tampering(
    browser: Browser, site: tuple[Path, TamperingProxy], artifacts: Path
) -> None:
    root, proxy = site
    context = await browser.new_context(base_url=proxy.url, viewport={"width": 390, "height": 844})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # First visit: the service worker checks the manifest's signature, pins the key and every file.
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Welcome to Confidant")).to_be_visible()
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    assert await page.evaluate("() => caches.keys()") != []

    # Repeat visit without any network: served by the service worker.
    await context.set_offline(True)
    await page.reload()
    await expect(page.get_by_role("heading", name="Welcome to Confidant")).to_be_visible()
    await context.set_offline(False)

    # The operator deploys a new release, signed with the deployment's release key.
    new_release(root, "0.1.1-test", "2026-12-01T09:00:00Z")
    await page.reload()
    notice = page.locator("#release-notice")
    await expect(notice).to_contain_text("Confidant was updated (0.1.1-test, December 1, 2026)")
    await expect(notice).to_contain_text("Reload to use the new version")
    await expect(notice).to_have_attribute("role", "status")
    assert await running_release(page) is None  # the open page keeps what it runs until it reloads
    await page.reload()
    await expect(page.get_by_role("heading", name="Welcome to Confidant")).to_be_visible()
    assert await running_release(page) == "0.1.1-test"
    await expect(notice).to_have_text(
        re.compile(r"^Confidant was updated \(0\.1\.1-test, December 1, 2026\)\.")
    )
    await shot(page, artifacts, "release-updated")

    # A tampering proxy alters the main bundle and rewrites the manifest to match: unsigned.
    bundle = re.search(r'src="(/assets/index-[^"]+\.js)"', (root / "index.html").read_text())
    assert bundle
    path = bundle.group(1)
    altered = (root / path.lstrip("/")).read_bytes() + TAMPER
    manifest = json.loads((root / "release.json").read_text())
    manifest["version"] = "6.6.6"
    manifest["files"][path] = hashlib.sha256(altered).hexdigest()
    proxy.swap = {path: altered, "/release.json": (json.dumps(manifest, indent=1) + "\n").encode()}
    await page.reload()
    await expect(notice).to_contain_text("did not sign")
    await expect(notice).to_contain_text("not signed by this deployment's release key")
    await expect(notice).to_contain_text("still using version 0.1.1-test")
    await expect(notice).to_have_attribute("role", "alert")
    await shot(page, artifacts, "release-refused")
    # The pinned release keeps running; the altered bundle never ran, not even after another reload.
    await page.reload()
    await expect(page.get_by_role("heading", name="Welcome to Confidant")).to_be_visible()
    await expect(notice).to_contain_text("did not sign")
    assert await running_release(page) == "0.1.1-test"
    assert await page.evaluate("() => window.__tampered === undefined")

    # The same change signed by another key (and naming it) is refused too.
    manifest["release_key"] = base64.b64encode(ed25519_seed_keypair(b"m" * 32)[0]).decode()
    text, signature = sign(manifest, b"m" * 32)
    proxy.swap = {path: altered, "/release.json": text, "/release.sig": signature}
    await page.reload()
    await expect(notice).to_contain_text("names a different release key")
    assert await running_release(page) == "0.1.1-test"
    assert await page.evaluate("() => window.__tampered === undefined")
    assert errors == []
    await context.close()
