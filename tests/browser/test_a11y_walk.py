"""A keyboard-and-screen-reader walk through the web client at 320 px: on every screen the skip link is the
first stop and lands on the content (without the hash router taking it), the tab title and the h1 name the
screen, toggle buttons keep their name, and the states axe cannot judge (queued messages, the dark call bar's
focus ring, the ended-session card, the connection state on a phone) have readable contrast."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser._ui import (
    PASSPHRASE,
    TERMS,
    save_recovery_key,
    send,
    shot,
    therapist_with_terms,
    violations,
)
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

PHONE = {"width": 320, "height": 640}

# WCAG 2.x contrast of an element's text (or outline) against the first opaque background behind it,
# with the element's own opacity (and its ancestors') blended in, as a reader sees it.
CONTRAST = """([selector, what]) => {
  const el = document.querySelector(selector);
  if (!el) return null;
  const parse = (c) => {
    const n = c.match(/[\\d.]+/g).map(Number);
    return { r: n[0], g: n[1], b: n[2], a: n.length > 3 ? n[3] : 1 };
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  let bg = { r: 255, g: 255, b: 255 };
  const start = what === "outline" ? el.parentElement : el;
  for (let e = start; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c.a > 0.99) { bg = c; break; }
  }
  let opacity = 1;
  for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
  const fg = parse(what === "outline" ? getComputedStyle(el).outlineColor : getComputedStyle(el).color);
  const mix = (k) => fg[k] * opacity + bg[k] * (1 - opacity);
  const seen = { r: mix("r"), g: mix("g"), b: mix("b") };
  const [hi, lo] = [lum(seen), lum(bg)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


TOP = """() => {
  const top = document.createElement("span");
  top.id = "walk-top";
  top.tabIndex = -1;
  document.body.prepend(top);
  top.focus();
  window.scrollTo(0, 0);
}"""
FOCUSED_NAME = (
    "() => document.activeElement.textContent.trim() || document.activeElement.getAttribute('aria-label')"
)


async def contrast(page: Page, selector: str, what: str = "text") -> float:
    ratio = await page.evaluate(CONTRAST, [selector, what])
    assert ratio is not None, f"{selector} not on screen"
    return float(ratio)


async def skip_link_walk(page: Page, title: str) -> None:
    """Tab from the top: the skip link first, visible; Enter lands in <main>, the screen stays as it was."""
    await expect(page).to_have_title(title)
    assert await page.locator("main h1").count() >= 1, f"no h1 on {title}"
    url = page.url
    snapshot = await page.locator("main").inner_text()
    # Start where a fresh page load starts: before the first element of the document.
    await page.evaluate(TOP)
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    await expect(skip).to_be_focused()
    await page.evaluate("() => document.getElementById('walk-top')?.remove()")
    box = await skip.bounding_box()
    assert box and box["x"] >= 0, "the focused skip link is on screen"
    await page.keyboard.press("Enter")
    assert await page.evaluate("() => document.getElementById('main').contains(document.activeElement)")
    assert page.url == url, "the skip link did not navigate"
    assert await page.locator("main").inner_text() == snapshot, "the screen did not change"


async def fits(page: Page) -> None:
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width} px wide at {PHONE['width']} px"


async def test_keyboard_and_screen_reader_walk_at_320px(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    report: dict[str, list[dict[str, object]]] = {}
    _, therapist, client_link = await therapist_with_terms(browser, server, "Sam Rivera")
    t = therapist.page

    context = await browser.new_context(viewport=PHONE, base_url=server.url)
    c = await context.new_page()
    await c.goto("/")
    await expect(c.get_by_role("heading", name="Welcome to Confidant")).to_be_visible()
    await skip_link_walk(c, "Welcome to Confidant")
    report["welcome"] = await violations(c)

    # Join: the skip link must not throw the invitation form away with what was typed.
    await c.goto(client_link)
    await expect(c.get_by_role("heading", name="You have been invited to Confidant")).to_be_visible()
    await c.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    await skip_link_walk(c, "You have been invited to Confidant")
    await expect(c.get_by_label("Passphrase", exact=True)).to_have_value(PASSPHRASE)
    report["join"] = await violations(c)
    await c.get_by_label("Repeat the passphrase").fill(PASSPHRASE)
    await c.get_by_role("button", name="Create my secure space").click()
    # The recovery key, once, right after the account is made (every role): on a 320 px phone too.
    await expect(c.get_by_role("heading", name="Your recovery key")).to_be_visible()
    await fits(c)
    report["recovery-key"] = await violations(c)
    await save_recovery_key(c)
    await expect(c.get_by_role("heading", name="Confidentiality terms")).to_be_visible()
    await expect(c.get_by_role("document", name="Terms text")).to_have_text(TERMS)
    await c.get_by_label("I have read these terms in full.").check()
    await c.get_by_role("button", name="I accept these terms").click()
    chat_box = c.get_by_label("Message to Your therapist")
    await expect(chat_box).to_be_visible()

    # The conversation on a 320 px phone: h1, no sideways scrolling, the connection state in words.
    await expect(c.get_by_role("heading", level=1, name="Your therapist")).to_be_visible()
    await expect(c.locator(".conn")).to_have_text("Online")
    await fits(c)
    assert await contrast(c, ".conn") >= 4.5
    await skip_link_walk(c, "Your therapist · Confidant")
    # Focus order: skip link, brand, Menu (the navigation is folded behind it on a phone), Lock.
    await c.evaluate(TOP)
    nav = c.get_by_role("navigation", name="Main")
    menu = c.get_by_role("button", name="Menu")
    stops = [
        c.get_by_role("link", name="Skip to content"),
        c.get_by_role("link", name="Confidant", exact=True),
        menu,
        c.get_by_role("button", name="Lock", exact=True),
    ]
    for stop in stops:  # each stop found by its accessible name, in this order
        await c.keyboard.press("Tab")
        await expect(stop).to_be_focused()
    # Opened, the menu takes focus to its first link; the links follow in order.
    await menu.focus()
    await c.keyboard.press("Enter")
    await expect(nav.get_by_role("link", name="Messages", exact=True)).to_be_focused()
    for name in ("Sessions", "Devices", "Activity"):
        await c.keyboard.press("Tab")
        await expect(nav.get_by_role("link", name=name, exact=True)).to_be_focused()
    report["client conversation 320px"] = await violations(c)
    await c.get_by_role("link", name="Devices").click()
    await expect(c.get_by_role("heading", name="Your devices")).to_be_visible()
    await skip_link_walk(c, "Your devices · Confidant")

    # The therapist's call screen: an h1, toggle buttons that keep their name, a visible focus ring on dark.
    await t.get_by_role("link", name="Sessions").click()
    await t.get_by_label("Sam Rivera", exact=True).check()
    await t.get_by_role("button", name="Schedule session").click()
    await t.get_by_role("link", name="Open waiting room").click()
    call = t.get_by_role("region", name="Video session")
    await expect(call).to_have_attribute("data-call-state", "admitted")
    await expect(t.get_by_role("heading", level=1, name="Video session")).to_be_attached()
    await skip_link_walk(t, "Video session · Confidant")
    mute = t.get_by_role("toolbar", name="Call controls").get_by_role("button", name="Mute", exact=True)
    await mute.focus()
    await t.keyboard.press("Space")
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await expect(mute).to_have_text("Mute")
    await t.keyboard.press("Tab")
    camera = t.get_by_role("button", name="Camera off", exact=True)
    await expect(camera).to_be_focused()
    assert await contrast(t, ".controls button:focus-visible", "outline") >= 3
    report["call"] = await violations(t)
    t.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "End the session for everyone?"
    await t.get_by_role("button", name="End session").click()
    await expect(t.get_by_role("heading", name="Session ended")).to_be_visible()
    assert await contrast(t, ".call .card h1") >= 4.5
    assert await contrast(t, ".call .card .end-text") >= 4.5
    report["session ended"] = await violations(t)

    # Queued messages (the relay is down) stay readable: no faded text.
    await c.get_by_role("button", name="Menu").click()
    await c.get_by_role("link", name="Messages").click()
    await expect(chat_box).to_be_visible()
    server.kill()
    await expect(c.locator(".conn")).to_have_text("Reconnecting…")
    await send(c, "Your therapist", "written while the relay is away")
    await expect(c.locator(".msg.out[data-state=queued]")).to_have_count(1)
    assert await contrast(c, ".msg.out[data-state=queued] .bubble") >= 4.5
    await shot(c, artifacts, "client-320px-queued")
    assert await contrast(c, ".conn") >= 4.5
    await fits(c)
    report["queued message"] = await violations(c)

    # Unlock (after a reload): its own title, the skip link keeps the form.
    await server.start_async()
    await c.reload()
    await expect(c.get_by_role("heading", name="Unlock Confidant")).to_be_visible()
    await c.get_by_label("Passphrase").fill("partly typed")
    await skip_link_walk(c, "Unlock Confidant")
    await expect(c.get_by_label("Passphrase")).to_have_value("partly typed")
    report["unlock"] = await violations(c)

    failing = {screen: v for screen, v in report.items() if v}
    assert not failing, json.dumps(failing, indent=1)
    await context.close()
