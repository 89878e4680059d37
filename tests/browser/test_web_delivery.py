"""How the web client reaches a phone: compressed hashed files with the right cache policy, a first screen
that does not wait for libsodium, and a passphrase KDF (Argon2id) that never freezes the page."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Response, expect

from tests.browser._ui import PASSPHRASE, join, open_user
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

IMMUTABLE = "public, max-age=31536000, immutable"


async def test_first_screen_is_compressed_cached_and_crypto_free(
    browser: Browser, server: ConfidantServer
) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, base_url=server.url)
    page = await context.new_page()
    responses: list[Response] = []
    page.on("response", lambda r: responses.append(r))
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Welcome to Confidant")).to_be_visible()
    await page.wait_for_load_state("networkidle")

    by_path = {r.url.removeprefix(server.url): r for r in responses}
    document = by_path["/"]
    assert (await document.all_headers())["cache-control"] == "no-cache"
    scripts = [r for p, r in by_path.items() if p.startswith("/assets/") and p.endswith((".js", ".css"))]
    assert scripts, sorted(by_path)
    for r in scripts:
        headers = await r.all_headers()
        # Chromium asks for br; the server answers with the build's brotli copy, cached for good by its hash.
        assert headers.get("content-encoding") == "br", (r.url, headers)
        assert headers["cache-control"] == IMMUTABLE, r.url
    # Nothing crypto-bound on the welcome screen: neither libsodium's code nor its WebAssembly was fetched.
    assert not [p for p in by_path if "libsodium" in p], sorted(by_path)
    await context.close()


async def test_unlock_runs_argon2id_in_a_worker_and_keeps_painting(
    browser: Browser, server: ConfidantServer
) -> None:
    admin = await open_user(browser, server)
    page = admin.page
    await join(page, f"/#/join/{server.admin_code()}")
    await expect(page.get_by_role("heading", name="Relay health")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="Unlock Confidant")).to_be_visible()
    await page.wait_for_load_state("networkidle")  # libsodium warmed while idle, as a person would find it

    workers: list[str] = []
    page.on("worker", lambda w: workers.append(w.url))
    await page.evaluate(
        """() => {
          window.__longTasks = [];
          new PerformanceObserver((list) => {
            for (const e of list.getEntries()) window.__longTasks.push(e.duration);
          }).observe({ type: "longtask" });
          // Frames painted while the passphrase is stretched: a frozen page paints none.
          window.__frames = 0;
          const tick = () => { window.__frames++; if (!window.__stop) requestAnimationFrame(tick); };
          requestAnimationFrame(tick);
        }"""
    )
    await page.get_by_label("Passphrase").fill(PASSPHRASE)
    started = await page.evaluate("() => performance.now()")
    await page.get_by_role("button", name="Unlock").click()
    # The progress is on screen (painted) while Argon2id runs.
    await expect(page.get_by_role("progressbar", name="Unlocking")).to_be_visible()
    frames_before = await page.evaluate("() => window.__frames")
    await expect(page.get_by_role("heading", name="Relay health")).to_be_visible()
    stats = await page.evaluate(
        "(t0) => { window.__stop = true; return {ms: performance.now() - t0, frames: window.__frames,"
        " longest: Math.max(0, ...window.__longTasks)}; }",
        started,
    )
    print(f"unlock {stats['ms']:.0f} ms, longest main-thread task {stats['longest']:.0f} ms")
    assert any("kdf-worker" in url for url in workers), workers
    # Argon2id (64 MiB, 3 passes) is most of the unlock; on the main thread it would be one task that long.
    assert stats["longest"] < stats["ms"] / 2, stats
    assert stats["frames"] > frames_before, stats
