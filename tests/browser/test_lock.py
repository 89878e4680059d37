"""Locking in the browser: "Lock" revokes the token on the server, an idle browser locks itself after the
delay set on the device screen (10 minutes by default), and "Remove this account from this browser" revokes
the device on the server before the local data is wiped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp
import pytest
from playwright.async_api import Browser, Page, Request, expect

from tests.browser._ui import join, open_user, unlock, violations
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser


def record_tokens(page: Page) -> list[str]:
    """Every bearer token the page sends to the API, in order (what a thief with the page's traffic holds)."""
    seen: list[str] = []

    def on_request(req: Request) -> None:
        auth = req.headers.get("authorization", "")
        if auth.startswith("Bearer ") and auth[7:] not in seen:
            seen.append(auth[7:])

    page.on("request", on_request)
    return seen


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll a condition with a deadline (the page's clock is fake; this one is the test's)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def revoked(server: ConfidantServer, token: str) -> None:
    """The token opens nothing any more (revocation is sent as the page locks: polled, with a deadline)."""
    for _ in range(100):
        if await status_with(server, token) == 401:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the token still works")


async def status_with(server: ConfidantServer, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/api/v1/me", headers=headers) as r:
        return r.status


async def test_lock_revokes_token_and_idle_lock_follows_the_setting(
    browser: Browser, server: ConfidantServer
) -> None:
    admin = await open_user(browser, server)
    page = admin.page
    # The page's clock is Playwright's: ten idle minutes pass in an instant, and nothing else is faked.
    await page.clock.install()
    tokens = record_tokens(page)
    await join(page, f"/#/join/{server.admin_code()}")
    await expect(page.get_by_role("heading", name="Relay health")).to_be_visible()
    assert tokens, "the admin's browser never authenticated"
    assert await status_with(server, tokens[-1]) == 200

    # "Lock" signs the browser out on the server: the token it held no longer opens anything.
    await page.get_by_role("button", name="Lock").click()
    await expect(page.get_by_role("heading", name="Unlock Confidant")).to_be_visible()
    held = tokens[-1]
    await revoked(server, held)

    # Idle lock, default 10 minutes: still open after 9, locked (and signed out) after 10.
    await unlock(page)
    await expect(page.get_by_role("heading", name="Relay health")).to_be_visible()
    await page.get_by_role("link", name="Devices").click()
    setting = page.get_by_label("Lock this browser when it is not used")
    await expect(setting).to_have_value("10")
    assert await violations(page) == []
    fresh = tokens[-1]
    assert fresh != held
    await page.clock.fast_forward("09:00")
    await expect(page.get_by_role("heading", name="Your devices")).to_be_visible()
    await page.clock.fast_forward("01:05")
    await expect(page.get_by_role("heading", name="Unlock Confidant")).to_be_visible()
    await expect(page.get_by_text("Locked because this browser was not used for a while.")).to_be_visible()
    await revoked(server, fresh)

    # The setting is kept (encrypted) with the device: at 1 minute, activity keeps it open, idleness locks it.
    await unlock(page)
    await page.get_by_role("link", name="Devices").click()
    await page.get_by_label("Lock this browser when it is not used").select_option("1")
    await expect(page.get_by_text("Saved.")).to_be_visible()
    await page.clock.fast_forward("00:45")
    await page.mouse.click(5, 400)
    await page.clock.fast_forward("00:45")
    await expect(page.get_by_role("heading", name="Your devices")).to_be_visible()
    await page.clock.fast_forward("01:20")
    await expect(page.get_by_role("heading", name="Unlock Confidant")).to_be_visible()
    await unlock(page)
    await page.get_by_role("link", name="Devices").click()
    await expect(page.get_by_label("Lock this browser when it is not used")).to_have_value("1")

    # Never: eight days pass unlocked, and the weekly signed-prekey rotation uploads a new one (PROTOCOL §19).
    rotations: list[str] = []

    def on_request(r: Request) -> None:
        if r.method == "PUT" and "/keys/signed-prekey" in r.url:
            rotations.append(r.post_data or "")

    page.on("request", on_request)
    await page.get_by_label("Lock this browser when it is not used").select_option("0")
    await expect(page.get_by_text("Saved.")).to_be_visible()
    await page.clock.fast_forward(8 * 24 * 3600 * 1000)
    await expect(page.get_by_role("heading", name="Your devices")).to_be_visible()
    await until(lambda: bool(rotations))
    assert json.loads(rotations[0])["id"] == 2
    assert admin.errors == []


async def test_remove_account_revokes_the_device_before_wiping(
    browser: Browser, server: ConfidantServer
) -> None:
    admin = await open_user(browser, server)
    page = admin.page
    tokens = record_tokens(page)
    await join(page, f"/#/join/{server.admin_code()}")
    await expect(page.get_by_role("heading", name="Relay health")).to_be_visible()
    await page.get_by_role("link", name="Devices").click()
    token = tokens[-1]

    # Offline, nothing is wiped: the browser would otherwise stay a live device of the account.
    page.on("dialog", lambda d: d.accept())
    await admin.context.set_offline(True)
    await page.get_by_role("button", name="Remove this account from this browser").click()
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was erased")
    await admin.context.set_offline(False)
    assert await status_with(server, token) == 200

    await page.get_by_role("button", name="Remove this account from this browser").click()
    await expect(page.get_by_role("heading", name="Welcome to Confidant")).to_be_visible()
    # The device is gone on the server (its token with it), and nothing is left in this browser.
    assert await status_with(server, token) == 401
    await page.reload()
    await expect(page.get_by_role("heading", name="Welcome to Confidant")).to_be_visible()
    assert admin.errors == []
