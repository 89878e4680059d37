"""When therapy ends, in two browsers: the therapist ends the client's link after confirming; both screens
change at once, the client keeps the conversation (read only) and can then delete their account, after
confirming, which leaves the browser at the welcome screen and the server without the account. Every screen
passes the axe audit; screenshots for docs/WEB.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from playwright.async_api import Browser, expect

from tests.browser._ui import bubble, open_chat, practice, send, violations
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "export.schema.json"


async def test_discharge_then_the_client_deletes_their_account(
    browser: Browser, server: ConfidantServer
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    await t.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
    await send(c, "Your therapist", "Thank you for these months.")
    unread = t.get_by_role("list", name="Clients").get_by_role("link", name=re.compile("1 unread$"))
    await expect(unread).to_be_visible()
    await open_chat(t, p.client_name)
    await expect(bubble(t, "Thank you for these months.")).to_be_visible()

    await t.get_by_role("link", name="End therapy").click()
    await expect(t.get_by_role("heading", name=f"End therapy with {p.client_name}?")).to_be_visible()
    assert await violations(t) == []
    await t.screenshot(path=str(SHOTS / "therapist-discharge.png"))
    await t.get_by_role("button", name=f"End therapy with {p.client_name}").click()
    # The therapist's list no longer has the client; the client is told, and keeps the conversation.
    await expect(t.get_by_role("heading", name="Your clients")).to_be_visible()
    await expect(t.get_by_role("list", name="Clients").get_by_role("link")).to_have_count(0)
    await expect(c.get_by_role("heading", name="Your therapy here has ended")).to_be_visible()
    await expect(bubble(c, "Thank you for these months.")).to_be_visible()
    await expect(c.get_by_label("Message to Your therapist")).to_have_count(0)
    await c.set_viewport_size({"width": 390, "height": 844})
    assert await violations(c) == []
    await c.screenshot(path=str(SHOTS / "client-therapy-ended.png"))
    # Still ended after a reload (the state is kept on the device).
    await c.reload()
    await c.get_by_label("Passphrase").fill("quiet river at dawn")
    await c.get_by_role("button", name="Unlock").click()
    await expect(c.get_by_role("heading", name="Your therapy here has ended")).to_be_visible()

    await c.get_by_role("link", name="Your account and data").click()
    await expect(c.get_by_role("heading", name="Your account", exact=True)).to_be_visible()
    # Right of access: the archive is built in the browser and holds the conversation and the consent.
    async with c.expect_download() as got:
        await c.get_by_role("button", name="Download as JSON").click()
    archive = json.loads(Path(await (await got.value).path()).read_text())
    jsonschema.validate(archive, json.loads(SCHEMA.read_text()))
    bodies = [m["body"] for conv in archive["conversations"] for m in conv["messages"]]
    assert bodies == ["Thank you for these months."]
    assert len(archive["consents"]) == 1 and archive["audit_entries"]
    async with c.expect_download() as got:
        await c.get_by_role("button", name="Download a printable page").click()
    page = Path(await (await got.value).path()).read_text()
    assert "Thank you for these months." in page and page.startswith("<!doctype html>")
    delete = c.get_by_role("button", name="Delete my account")
    await expect(delete).to_be_disabled()
    await c.get_by_label("I understand that my account and its data will be deleted for good.").check()
    assert await violations(c) == []
    await c.screenshot(path=str(SHOTS / "client-delete-account.png"))
    await delete.click()
    await expect(c.get_by_role("heading", name="Welcome to Confidant")).to_be_visible()

    # An administrator erases the therapist's account from the dashboard (two clicks).
    a = p.admin.page
    await a.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    staff = a.get_by_role("row").filter(has_text="therapist")
    therapist_id = await staff.locator("code").get_attribute("title")
    assert therapist_id
    await a.get_by_label("Account id").fill(therapist_id)
    await a.get_by_role("button", name="Erase account").click()
    await a.get_by_role("button", name="Confirm: erase account").click()
    await expect(a.get_by_test_id("moderation-result")).to_contain_text(f"Account {therapist_id[:8]}… erased")
    await expect(staff).to_have_count(0)
    assert p.admin.errors == []
    assert p.client.errors == [] and p.therapist.errors == []
