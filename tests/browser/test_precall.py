"""The waiting room's pre-call check in Chromium, against a server whose TURN relay is reachable over TCP but
whose UDP path is blocked (a UDP relay address where nothing answers, as behind a firewall)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.browser._ui import practice, shot, violations
from tests.browser.conftest import LOOP
from tests.fixtures.coturn_proc import Coturn, coturn
from tests.fixtures.ports import free_port
from tests.fixtures.server_proc import ConfidantServer

pytestmark = [pytest.mark.browser, pytest.mark.webrtc]
__all__ = ["coturn"]


@pytest_asyncio.fixture(loop_scope=LOOP)
async def udp_blocked(tmp_path: Path, web_dist: Path, coturn: Coturn) -> AsyncIterator[ConfidantServer]:
    blocked = f"turn:127.0.0.1:{free_port(socket.SOCK_DGRAM)}?transport=udp"
    env = {"CONFIDANT_TURN_URLS": f"{blocked},{coturn.tcp_url}", "CONFIDANT_TURN_SECRET": coturn.secret}
    srv = ConfidantServer(tmp_path / "data", env=env, extra_args=["--web-root", str(web_dist)])
    await srv.start_async()
    try:
        yield srv
    finally:
        srv.stop()


async def test_the_pre_call_check_reports_a_blocked_udp_path_with_advice(
    browser: Browser, udp_blocked: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, udp_blocked)
    t, c = p.therapist.page, p.client.page
    await t.get_by_role("link", name="Sessions").click()
    await t.get_by_label(p.client_name, exact=True).check()
    await t.get_by_role("button", name="Schedule session").click()
    await c.get_by_role("link", name="Sessions").click()
    await c.get_by_role("link", name="Join").click()
    await expect(c.get_by_role("heading", name="You are in the waiting room")).to_be_visible()

    setup = c.get_by_role("region", name="Check your setup")
    await expect(setup.get_by_label("Camera")).to_contain_text("fake")  # Chromium's fake camera is listed
    await expect(setup.get_by_label("Microphone", exact=True)).not_to_be_empty()
    await c.wait_for_function("() => document.querySelector('#precall-level').value > 0")  # the mic moves
    await setup.get_by_role("button", name="Play a test sound").click()
    await setup.get_by_role("button", name="Check my connection").click()
    results = setup.get_by_role("list", name="Connection check")
    await expect(results).to_contain_text("Relay over UDP (fastest): blocked", timeout=20_000)
    await expect(results).to_contain_text("Relay over TCP: reachable")
    await expect(results).to_contain_text("Download speed: about")
    await expect(setup.get_by_role("status")).to_contain_text("Your network blocks the fastest route (UDP)")
    await shot(c, artifacts, "client-precall-check")
    assert await violations(c) == []
    assert p.client.errors == []
