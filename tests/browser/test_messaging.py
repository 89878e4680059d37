"""Therapist and client in two browsers through a real server: invitation, consent, 20 messages each way,
delivery states, reload + unlock with history intact, a device added by approved linking (announced, not a
key change), one safety number per contact, nothing readable on the server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.browser._ui import (
    assert_server_never_saw,
    bubble,
    link_new_device,
    open_chat,
    practice,
    send,
    shot,
    unlock,
)
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

N = 20
SCENE = [
    ("client", "Your therapist", "Hi Dr. Lind, the breathing exercise really helped this week."),
    ("therapist", "client", "That is good to hear, Sam. When did you notice it helping most?"),
    ("client", "Your therapist", "Before the team meeting on Tuesday. I was nervous but it passed."),
    ("therapist", "client", "That is real progress. Let's look at it together on Thursday."),
]


async def test_conversation_survives_reload_and_a_linked_device(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server, artifacts=artifacts)
    t, c = p.therapist.page, p.client.page
    await open_chat(t, p.client_name)

    typed: list[str] = []
    for sender, to, text in SCENE:
        page = c if sender == "client" else t
        await send(page, to if to != "client" else p.client_name, text)
        await expect(bubble(c if page is t else t, text)).to_be_visible()
        typed.append(text)
    await expect(c.locator(".msg.out[data-state=delivered]")).to_have_count(2)
    await expect(t.locator(".msg.out[data-state=delivered]")).to_have_count(2)
    await shot(t, artifacts, "therapist-conversation")
    await shot(c, artifacts, "client-conversation")

    for i in range(N):
        from_client = f"client note {i}: sleeping better since Tuesday ✓"
        from_therapist = f"therapist reply {i}: that is good to hear"
        typed += [from_client, from_therapist]
        await send(c, "Your therapist", from_client)
        await send(t, p.client_name, from_therapist)

    for text in typed:
        await expect(bubble(c, text)).to_have_count(1)
        await expect(bubble(t, text)).to_have_count(1)
    # Every one of the client's messages reaches "Delivered" (the therapist's device decrypted and stored it).
    await expect(c.locator(".msg.out[data-state=delivered]")).to_have_count(N + 2, timeout=30_000)
    await expect(t.locator(".msg.out[data-state=delivered]")).to_have_count(N + 2, timeout=30_000)

    # A draft survives the chat being drawn again (another screen and back); locking forgets it (memory only).
    composer = c.get_by_label("Message to Your therapist")
    await composer.fill("half-written: about Thursday")
    await c.get_by_role("link", name="Devices").click()
    await c.get_by_role("link", name="Messages").click()
    await expect(composer).to_have_value("half-written: about Thursday")
    await expect(composer).to_be_focused()
    await c.get_by_role("button", name="Lock").click()
    await unlock(c)
    await expect(composer).to_have_value("")

    # Reload: the device is locked, the passphrase opens it, history is read back from this browser only.
    await c.reload()
    await expect(c.get_by_role("heading", name="Unlock Confidant")).to_be_visible()
    await shot(c, artifacts, "unlock")
    await c.get_by_label("Passphrase").fill("not my passphrase")
    await c.get_by_role("button", name="Unlock").click()
    await expect(c.get_by_role("alert")).to_contain_text("does not unlock")
    await unlock(c)
    for text in typed:
        await expect(bubble(c, text)).to_have_count(1)
    await send(c, "Your therapist", "after reload: still here")
    await expect(bubble(t, "after reload: still here")).to_be_visible()
    typed.append("after reload: still here")

    # Nothing secret outside IndexedDB: no localStorage, no cookies.
    assert await c.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert await p.client.context.cookies() == []

    # The client adds a new device, approved from the first one: not a key change (the account key is the
    # same), so nothing blocks; the therapist's conversation says so, and messages reach both devices.
    phone = await link_new_device(browser, server, c)
    await expect(phone.page.get_by_label("Message to Your therapist")).to_be_visible()
    added = re.compile(rf"{re.escape(p.client_name)} added a device on")
    await expect(t.locator(".msg.notice").filter(has_text=added)).to_be_visible()
    await expect(t.get_by_role("alert").filter(has_text="security key has changed")).to_have_count(0)
    await send(t, p.client_name, "welcome to your new device")
    await expect(bubble(phone.page, "welcome to your new device")).to_be_visible()
    await c.get_by_role("link", name="Messages").click()
    await expect(bubble(c, "welcome to your new device")).to_be_visible()
    typed.append("welcome to your new device")

    # Safety number: ONE number per contact (over the account keys), the same on all three screens.
    await t.get_by_role("link", name="Safety number", exact=True).click()
    number_t = await t.get_by_test_id("safety-number").get_attribute("aria-label")
    await shot(t, artifacts, "safety-number")
    await c.get_by_role("link", name="Safety number", exact=True).click()
    number_c = await c.get_by_test_id("safety-number").get_attribute("aria-label")
    await phone.page.get_by_role("link", name="Safety number", exact=True).click()
    number_phone = await phone.page.get_by_test_id("safety-number").get_attribute("aria-label")
    assert number_t and re.fullmatch(r"Safety number: (\d{5} ){11}\d{5}", number_t)
    assert number_t == number_c == number_phone
    await t.get_by_role("button", name="The numbers match").click()
    await expect(t.get_by_role("status").filter(has_text="marked as verified")).to_be_visible()

    # The client removes the new device again: it is told at once; the therapist stays verified.
    await c.get_by_role("link", name="Devices").click()
    devices = c.get_by_role("list", name="Your devices")
    await expect(devices.get_by_role("listitem")).to_have_count(2)
    # Removing asks first: Cancel keeps the device, "Remove device" removes it.
    await devices.get_by_role("button", name="Remove").click()
    confirm = devices.get_by_role("group", name="Confirm removal")
    await expect(confirm).to_contain_text("stops receiving messages")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(devices.get_by_role("listitem")).to_have_count(2)
    await devices.get_by_role("button", name="Remove").click()
    await devices.get_by_role("button", name="Remove device").click()
    await expect(devices.get_by_role("listitem")).to_have_count(1)
    await expect(phone.page.get_by_role("heading", name="This device was removed")).to_be_visible()
    told = phone.page.get_by_text("tell your therapist or your practice's administrator")
    await expect(told).to_be_visible()
    await open_chat(t, p.client_name)
    await expect(t.get_by_text("End-to-end encrypted · verified")).to_be_visible()

    for user in (p.admin, p.therapist, p.client, phone):
        assert user.errors == []

    # The relay cannot read: none of the typed texts (or the client's name) is in its files or logs.
    assert_server_never_saw(server, [*typed, p.client_name, "Dr. Maya Lind"])
