"""Everyday use (issue 18): the invitation checked (and its role shown) before the passphrase; a therapist's
first steps; copy feedback; a client on a 390x844 touch phone (navigation behind a Menu, nothing clipped,
Enter makes a line break, right-to-left text laid out right to left, "Offline"); a therapist with the app in a
background tab gets a notification that says only "New message" and an unread count in the tab title; the
account's own activity in plain language; the account id on the Devices page; every new screen passes axe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser._ui import (
    TERMS,
    UI_TIMEOUT,
    User,
    bubble,
    create_invitation,
    join,
    open_chat,
    open_user,
    shot,
    violations,
)
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
HEBREW = "שלום, מה שלומך היום?"

# Every notification the page raises, recorded as the operating system would receive it (title and options),
# then passed on to the real Notification (the context granted the permission).
RECORD_NOTIFICATIONS = """(() => {
  const Real = window.Notification;
  window.__notes = [];
  class Recorded extends Real {
    constructor(title, options) {
      window.__notes.push({ title, options: options || {} });
      super(title, options);
    }
  }
  window.Notification = Recorded;
})();"""

BACKGROUND = """() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""
FOREGROUND = """() => {
  delete document.visibilityState;
  delete document.hidden;
  document.dispatchEvent(new Event("visibilitychange"));
}"""

# Bounding boxes of the visible controls of the top bar and its open menu, to compare with the viewport.
CONTROL_BOXES = """(sel) => [...document.querySelectorAll(sel)]
  .filter((e) => e.offsetParent !== null)
  .map((e) => { const r = e.getBoundingClientRect();
                return { name: (e.textContent || e.getAttribute('aria-label') || '').trim(),
                         left: r.left, right: r.right, top: r.top, bottom: r.bottom }; })"""


async def open_context(browser: Browser, server: ConfidantServer, **options: object) -> User:
    context = await browser.new_context(base_url=server.url, **options)  # type: ignore[arg-type]
    page = await context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return User(context, page, errors)


async def assert_inside(page: Page, selector: str) -> None:
    boxes = await page.evaluate(CONTROL_BOXES, selector)
    assert boxes, f"no visible {selector}"
    for b in boxes:
        assert b["left"] >= 0 and b["right"] <= PHONE["width"], b
        assert b["top"] >= 0 and b["bottom"] <= PHONE["height"], b


async def test_phone_rtl_notifications_activity(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    admin = await open_user(browser, server)
    await join(admin.page, f"/#/join/{server.admin_code()}")
    therapist_link = await create_invitation(admin.page, "Dr. Maya Lind")

    therapist = await open_context(browser, server, viewport={"width": 1180, "height": 760},
                                   permissions=["notifications", "clipboard-read", "clipboard-write"])
    await therapist.context.add_init_script(RECORD_NOTIFICATIONS)
    t = therapist.page
    # The invitation is checked before any passphrase is asked for, and its role is shown.
    await t.goto(therapist_link)
    await expect(t.get_by_test_id("invitation-role")).to_contain_text("for a therapist account")
    await join(t, therapist_link)
    # An empty practice walks through the first steps: terms first, then an invitation.
    steps = t.get_by_role("list", name="First steps")
    await expect(steps).to_contain_text("Publish your confidentiality terms")
    assert await violations(t) == []
    await shot(t, artifacts, "therapist-first-steps")
    await steps.get_by_role("link", name="Write them now").click()
    await t.get_by_label("Terms", exact=True).fill(TERMS)
    await t.get_by_role("button", name="Publish terms").click()
    await expect(t.get_by_text("Published version 1")).to_be_visible()
    client_link = await create_invitation(t, "Noa Levi")
    await t.get_by_role("button", name="Copy link").click()
    await expect(t.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    assert await t.evaluate("() => navigator.clipboard.readText()") == client_link

    client = await open_context(browser, server, viewport=PHONE, has_touch=True, is_mobile=True)
    c = client.page
    await c.goto(client_link)
    await expect(c.get_by_test_id("invitation-role")).to_contain_text("for a client account")
    await shot(c, artifacts, "phone-join-role")
    await join(c, client_link)
    await c.get_by_label("I have read these terms in full.").check()
    await c.get_by_role("button", name="I accept these terms").click()
    box = c.get_by_label("Message to Your therapist")
    await expect(box).to_be_visible()

    # Phone: every control of the top bar fits; the navigation opens from Menu and fits too.
    await assert_inside(c, ".topbar a, .topbar button, .chat-head a, .chat-head button, .composer button")
    menu = c.get_by_role("button", name="Menu")
    await menu.click()
    await expect(menu).to_have_attribute("aria-expanded", "true")
    nav = c.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Devices")).to_be_visible()
    await assert_inside(c, ".topnav a")
    assert await violations(c) == []
    await shot(c, artifacts, "phone-menu")
    await c.keyboard.press("Escape")
    await expect(nav.get_by_role("link", name="Devices")).to_be_hidden()

    # The browser says it lost its network: "Offline", not "Reconnecting…"; back online, back to "Online".
    await c.evaluate("() => window.dispatchEvent(new Event('offline'))")
    await expect(c.locator(".conn")).to_have_text("Offline")
    await c.evaluate("() => window.dispatchEvent(new Event('online'))")
    await expect(c.locator(".conn")).to_have_text("Online")

    # A used invitation is refused before a passphrase is typed.
    stranger = await open_context(browser, server, viewport=PHONE)
    await stranger.page.goto(client_link)
    refused = stranger.page.get_by_role("heading", name="This invitation can no longer be used")
    await expect(refused).to_be_visible()
    await expect(stranger.page.get_by_label("Passphrase", exact=True)).to_have_count(0)
    assert await violations(stranger.page) == []
    await stranger.context.close()

    # Turn on notifications on the therapist's Devices page, where the account id is too.
    await t.get_by_role("navigation", name="Main").get_by_role("link", name="Devices").click()
    account_id = await t.get_by_test_id("account-id").text_content()
    assert account_id and re.fullmatch("[0-9a-f]{32}", account_id)
    await t.get_by_role("button", name="Turn on notifications").click()
    await expect(t.get_by_text(re.compile("^On: when Confidant is open in a background tab"))).to_be_visible()
    assert await violations(t) == []
    await shot(t, artifacts, "devices-account-id")

    # The therapist's tab goes to the background. Headless Chromium keeps every tab "visible", so the page is
    # told what a browser tells a background tab: visibilityState "hidden" and a visibilitychange event.
    await t.evaluate(BACKGROUND)

    # Touch keyboard: Enter is a line break; the Send button sends. Right-to-left text reads right to left.
    await box.fill(HEBREW)
    await box.press("Enter")
    await box.type("second line")
    await expect(box).to_have_value(HEBREW + "\nsecond line")
    await expect(box).to_have_css("direction", "rtl")
    await c.get_by_role("button", name="Send").click()
    sent = c.locator(".messages .bubble").filter(has_text=HEBREW)
    await expect(sent).to_be_visible()
    await expect(sent).to_have_css("direction", "rtl")  # (re-rendered as its state changes: polled)

    # A notification with nothing in it but "New message", and the count in the tab title.
    await t.wait_for_function("() => window.__notes.length > 0")
    notes = await t.evaluate("() => window.__notes")
    assert [n["title"] for n in notes] == ["New message"]
    shown = notes[0]["options"]
    assert not shown.get("body") and not shown.get("image") and not shown.get("icon"), shown
    assert "Noa" not in str(notes) and "שלום" not in str(notes)
    await expect(t).to_have_title(re.compile(r"^\(1\) "))
    await t.evaluate(FOREGROUND)
    await open_chat(t, "Noa Levi")
    await expect(bubble(t, HEBREW + "\nsecond line")).to_be_visible()
    await expect(t).not_to_have_title(re.compile(r"^\(\d+\) "))
    await expect(c.locator(".msg.out[data-state=delivered]")).to_have_count(1)
    await shot(c, artifacts, "phone-conversation-rtl")

    # The account's own activity, in plain language.
    await t.get_by_role("navigation", name="Main").get_by_role("link", name="Activity").click()
    log = t.get_by_role("list", name="Account activity")
    await expect(log.get_by_text("Your account was created (therapist).")).to_be_visible()
    await expect(log.get_by_text("Signed in from this browser.").first).to_be_visible()
    assert await violations(t) == []
    await shot(t, artifacts, "account-activity")
    assert therapist.errors == [] and client.errors == []
