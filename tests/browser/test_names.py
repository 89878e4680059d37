"""Names in Chromium (docs/PROTOCOL.md section 23): the client's name the therapist typed at invitation is
shown on a second, approved device of the therapist and a rename on one device reaches the other; the
therapist's display name reaches the client end to end (no more "Your therapist"), while the therapist's own
name for the client wins over the one the client chose; the administrator's dashboard shows the name the
administrator typed; bad names get a clear error; axe finds nothing; the server never holds a name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from client.device import Device
from client.names import Names
from client.vault import Vault
from tests.browser._ui import (
    assert_server_never_saw,
    go_to,
    link_new_device,
    open_chat,
    practice,
    shot,
    therapist_with_terms,
    violations,
)
from tests.e2e.conftest import next_event
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

CLIENT = "Sam Rivera"
RENAMED = "Samuel Rivera-Okafor"
THERAPIST_LABEL = "Dr. Maya Lind"  # what the administrator typed at invitation (tests/browser/_ui.py)
DISPLAY = "Maya Lind, counselling"
CLIENT_DISPLAY = "Sunny R."


def _clients(page: Page) -> Locator:
    return page.get_by_role("list", name="Clients")


async def _set_display_name(page: Page, name: str) -> None:
    await go_to(page, "Account")
    box = page.get_by_role("textbox", name="Your name")
    await box.fill(name)
    await page.get_by_role("button", name="Save name").click()
    await expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()


async def test_names_on_two_devices_and_the_display_name_end_to_end(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server, CLIENT)
    t, c, a = p.therapist.page, p.client.page, p.admin.page

    # The name typed at invitation time comes from the vault, bound to the client's account.
    await go_to(t, "Clients")
    await expect(_clients(t).get_by_role("link", name=re.compile(CLIENT))).to_be_visible()

    # A second device of the therapist, added by approved linking, shows the same name.
    phone = await link_new_device(browser, server, t)
    await expect(_clients(phone.page).get_by_role("link", name=re.compile(CLIENT))).to_be_visible()

    # A rename on the phone reaches the laptop.
    await _clients(phone.page).get_by_role("link", name=re.compile(CLIENT)).click()
    await phone.page.locator(".chat-head").get_by_role("link", name="Rename").click()
    await phone.page.get_by_label("Name", exact=True).fill("Sam\u202eRivera")
    await phone.page.get_by_role("button", name="Save name").click()
    await expect(phone.page.get_by_role("alert")).to_contain_text("text-direction")
    await phone.page.get_by_label("Name", exact=True).fill(RENAMED)
    await phone.page.get_by_role("button", name="Save name").click()
    await expect(phone.page.get_by_role("status").filter(has_text=f"Saved: “{RENAMED}”")).to_be_visible()
    assert await violations(phone.page) == []
    await shot(phone.page, artifacts, "names-rename-phone")
    await go_to(t, "Clients")
    await expect(_clients(t).get_by_role("link", name=re.compile(RENAMED))).to_be_visible()

    # The therapist's display name travels end to end: the client sees it instead of "Your therapist".
    await go_to(t, "Account")
    await t.get_by_role("textbox", name="Your name").fill("x" * 65)
    await t.get_by_role("button", name="Save name").click()
    await expect(t.get_by_role("alert")).to_contain_text("at most 64 characters")
    await _set_display_name(t, DISPLAY)
    assert await violations(t) == []
    await shot(t, artifacts, "names-display-name")
    await expect(c.get_by_label(f"Message to {DISPLAY}")).to_be_visible()
    await expect(c.get_by_role("heading", level=1, name=DISPLAY)).to_be_visible()
    await c.set_viewport_size({"width": 390, "height": 844})
    assert await violations(c) == []
    await shot(c, artifacts, "names-client-sees-therapist-phone")

    # The client chooses a name too: the therapist's own name for the client still wins, on both devices.
    await _set_display_name(c, CLIENT_DISPLAY)  # on the phone-sized screen
    assert await violations(c) == []
    assert await c.evaluate("document.documentElement.scrollWidth <= innerWidth")  # no sideways scroll
    await open_chat(t, RENAMED)
    await t.locator(".chat-head").get_by_role("link", name="Rename").click()
    await expect(t.get_by_text(f"They call themselves “{CLIENT_DISPLAY}”")).to_be_visible()
    await go_to(t, "Clients")
    await expect(_clients(t).get_by_role("link", name=re.compile(RENAMED))).to_be_visible()
    await expect(_clients(t).get_by_text(CLIENT_DISPLAY)).to_have_count(0)

    # The administrator's dashboard: the name the administrator typed, never the therapist's own.
    await go_to(a, "Dashboard")
    row = a.get_by_role("row").filter(has_text="therapist")
    await expect(row.get_by_role("cell").first).to_have_text(THERAPIST_LABEL)
    await expect(a.get_by_text(DISPLAY)).to_have_count(0)
    assert await violations(a) == []
    await shot(a, artifacts, "names-admin-dashboard")

    assert p.therapist.errors == [] and p.client.errors == [] and phone.errors == []
    assert_server_never_saw(server, [CLIENT, RENAMED, DISPLAY, CLIENT_DISPLAY, THERAPIST_LABEL])


async def test_display_names_between_the_browser_and_the_sdk(
    browser: Browser, server: ConfidantServer, tmp_path: Path
) -> None:
    """Interop: one profile payload, the same bytes rules on both sides (tests/vectors/names.json)."""
    admin, therapist, link = await therapist_with_terms(browser, server, "Alex (scripted)")
    sdk = await Device.register(server.url, link, tmp_path / "sdk.keystore", "sdk passphrase")
    try:
        therapist_id = next(c.account_id for c in await sdk.contacts() if c.role == "therapist")
        await sdk.accept_terms(therapist_id)
        t = therapist.page
        await _set_display_name(t, DISPLAY)  # sent by the browser once the client's consent is current
        got = await next_event(sdk, "profile")
        assert got == {"event": "profile", "account_id": therapist_id, "display_name": DISPLAY}

        vault = Vault.of(sdk)
        await Names(sdk, vault).set_display_name(CLIENT_DISPLAY, [therapist_id])
        await open_chat(t, "Alex (scripted)")
        await t.locator(".chat-head").get_by_role("link", name="Rename").click()
        await expect(t.get_by_text(f"They call themselves “{CLIENT_DISPLAY}”")).to_be_visible()
        await expect(t.get_by_role("heading", name="Rename Alex (scripted)")).to_be_visible()
        assert admin.errors == [] and therapist.errors == []
    finally:
        await sdk.close()
