"""The admin dashboard in real Chromium: live figures from a relay carrying real E2EE traffic, dependency
status, staff moderation and audit verification, under the production CSP (no violation reported)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from client.device import Device
from tests.browser._ui import join, open_user
from tests.fixtures.server_proc import CONFIDANT, parse_invitation_code
from tests.ops.conftest import PASSPHRASE, TERMS, relay_server

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ops"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def web_dist() -> Path:
    subprocess.run(["sh", "scripts/build-web.sh"], cwd=REPO, check=True, timeout=300)
    dist = REPO / "web-client" / "dist"
    assert (dist / "index.html").is_file()
    return dist


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def _chatter(client: Device, therapist: Device, stop: asyncio.Event) -> None:
    """Steady traffic while the dashboard is watched: one message every 150 ms, received by the therapist."""
    i = 0
    while not stop.is_set():
        await client.send(therapist.account_id, f"note {i}")
        await therapist.receive(1)
        i += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.15)  # the traffic's pace, not synchronisation


async def test_dashboard_shows_live_relay_health(tmp_path: Path, web_dist: Path, browser: Browser) -> None:
    server = relay_server(tmp_path, extra_args=["--web-root", str(web_dist)])
    await server.start_async()
    devices: list[Device] = []
    stop = asyncio.Event()
    try:
        admin = await open_user(browser, server)
        await join(admin.page, f"/#/join/{server.admin_code()}")
        page = admin.page
        await expect(page.get_by_role("heading", name="Relay health")).to_be_visible()

        command = [str(CONFIDANT), "admin", "invite", "--data-dir", str(server.data_dir)]
        invite = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
        therapist = await Device.register(server.url, parse_invitation_code(invite.stdout),
                                          tmp_path / "t.keystore", PASSPHRASE, kdf="fast")
        devices.append(therapist)
        await therapist.publish_terms(TERMS)
        client = await Device.register(server.url, (await therapist.invite_client())["code"],
                                       tmp_path / "c.keystore", PASSPHRASE, kdf="fast")
        devices.append(client)
        await client.accept_terms(therapist.account_id)
        traffic = asyncio.create_task(_chatter(client, therapist, stop))

        await expect(page.get_by_test_id("dep-storage")).to_contain_text("ok")
        await expect(page.get_by_test_id("dep-broker")).to_contain_text("ok")
        await expect(page.get_by_test_id("metric-connections")).to_have_text("3")  # browser + two devices
        throughput = page.get_by_test_id("metric-throughput")
        await expect(throughput).to_have_text(re.compile(r"^[1-9][0-9]*\.[0-9]$"))  # envelopes/s, live
        await expect(page.get_by_test_id("metric-latency")).to_have_text(re.compile(r"^[0-9.]+ (ms|s)$"))
        await expect(page.get_by_test_id("metric-backlog")).to_have_text(re.compile(r"^[0-9]+$"))
        await expect(page.get_by_test_id("accounts-therapist")).to_have_text("1", timeout=20_000)
        await expect(page.get_by_test_id("accounts-client")).to_have_text("1")
        first = await page.get_by_test_id("updated").text_content()
        await expect(page.get_by_test_id("updated")).not_to_have_text(first or "", timeout=10_000)  # it polls
        sparkline = page.get_by_role("img", name=re.compile("^Throughput"))
        await expect(sparkline.locator("path.spark-line")).to_have_attribute("d", re.compile(r"^M.+L.+L"))

        page_text = await page.locator("#app").inner_text()
        assert "note " not in page_text and client.account_id not in page_text  # aggregates only

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)
        stop.set()
        await traffic

        # Moderation from the staff table: disabling the therapist locks it out, enabling lets it back in.
        row = page.get_by_role("row").filter(has_text="therapist")
        await row.get_by_role("button", name="Disable").click()
        await row.get_by_role("button", name="Confirm: disable").click()
        await expect(page.get_by_test_id("moderation-result")).to_contain_text("disabled")
        with pytest.raises(Exception, match="disabled"):
            await therapist.api.me()
        await row.get_by_role("button", name="Enable").click()
        await expect(page.get_by_test_id("moderation-result")).to_contain_text("enabled")
        assert (await therapist.api.me())["account_id"] == therapist.account_id

        await page.get_by_role("button", name="Verify chain").click()
        await expect(page.get_by_test_id("audit-result")).to_contain_text("Audit chain intact")
        assert admin.errors == [], admin.errors  # no CSP violation, no uncaught error
    finally:
        stop.set()
        for device in devices:
            await device.close()
        server.stop()
