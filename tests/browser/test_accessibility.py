"""Automated accessibility audit (axe-core, WCAG 2.1 A/AA rules) of the main screens, as both roles see them,
plus keyboard-only use of the composer."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Browser, expect

from tests.browser._ui import bubble, open_chat, practice, violations
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

async def test_main_screens_pass_axe(browser: Browser, server: ConfidantServer) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page

    # Keyboard only: the composer has focus on arrival, Enter sends.
    await expect(c.get_by_label("Message to Your therapist")).to_be_focused()
    await c.keyboard.type("typed with the keyboard only")
    await c.keyboard.press("Enter")
    await open_chat(t, p.client_name)
    await expect(bubble(t, "typed with the keyboard only")).to_be_visible()

    report: dict[str, list[dict[str, object]]] = {}
    report["client conversation"] = await violations(c)
    report["therapist conversation"] = await violations(t)
    await t.get_by_role("link", name="Sessions").click()
    await expect(t.get_by_role("heading", name="Schedule a session")).to_be_visible()
    report["therapist sessions"] = await violations(t)
    await t.get_by_role("link", name="Terms").click()
    await expect(t.get_by_role("button", name="Publish terms")).to_be_visible()
    report["therapist terms"] = await violations(t)
    await c.get_by_role("link", name="Safety number", exact=True).click()
    await expect(c.get_by_test_id("safety-number")).to_be_visible()
    report["client safety number"] = await violations(c)
    await c.get_by_role("link", name="Devices").click()
    await expect(c.get_by_role("heading", name="Your devices")).to_be_visible()
    report["client devices"] = await violations(c)
    await c.reload()
    await expect(c.get_by_role("heading", name="Unlock Confidant")).to_be_visible()
    report["unlock"] = await violations(c)

    failing = {screen: v for screen, v in report.items() if v}
    assert not failing, json.dumps(failing, indent=1)
