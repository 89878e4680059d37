"""What a person does in the web client, as Playwright steps, and an axe-core audit (shared by the tests)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Dialog, Locator, Page, expect

from client.device import Device
from tests.fixtures.server_proc import ConfidantServer

PASSPHRASE = "quiet river at dawn"
TERMS = (
    "What you share with me stays between us.\n\n"
    "Exceptions: a serious risk of harm to you or to someone else, suspected abuse of a child "
    "or a vulnerable adult, or an order from a court."
)
UI_TIMEOUT = 15_000

KeyCheck = Callable[[Page, str], Awaitable[None]]  # (page, recovery key text) on the screen after creation

AXE = Path(__file__).resolve().parents[2] / "web-client" / "node_modules" / "axe-core" / "axe.min.js"
AXE_RUN = """async () => {
  const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
  const r = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                 nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


async def violations(page: Page) -> list[dict[str, object]]:
    if not await page.evaluate("() => typeof axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())  # evaluated through DevTools: the page's CSP stays strict
    found: list[dict[str, object]] = await page.evaluate(AXE_RUN)
    return found


@dataclass
class User:
    context: BrowserContext
    page: Page
    errors: list[str]
    recovery_key: str = ""  # shown once when the account was created here (join)


async def open_user(browser: Browser, server: ConfidantServer, path: str = "/") -> User:
    context = await browser.new_context(viewport={"width": 1180, "height": 760}, base_url=server.url)
    page = await context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    await page.goto(path)
    return User(context, page, errors)


async def join(page: Page, link: str, passphrase: str = PASSPHRASE, on_key: KeyCheck | None = None) -> str:
    """Create an account from an invitation link; returns the recovery key shown once right after."""
    await page.goto(link)
    await page.get_by_label("Passphrase", exact=True).fill(passphrase)
    await page.get_by_label("Repeat the passphrase").fill(passphrase)
    await page.get_by_role("button", name="Create my secure space").click()
    return await save_recovery_key(page, on_key)


async def save_recovery_key(page: Page, on_key: KeyCheck | None = None) -> str:
    """The screen right after account creation: read the recovery key (`on_key` looks at the screen),
    then "I have saved it"."""
    key = page.get_by_test_id("recovery-key")
    await expect(key).to_have_text(re.compile(r"^\s*([0-9A-Z]{4}-){7}[0-9A-Z]{4}\s*$"))
    text = (await key.text_content() or "").strip()
    if on_key is not None:
        await on_key(page, text)
    await page.get_by_role("button", name="I have saved it").click()
    return text


async def unlock(page: Page, passphrase: str = PASSPHRASE) -> None:
    await page.get_by_label("Passphrase").fill(passphrase)
    await page.get_by_role("button", name="Unlock").click()


async def create_invitation(page: Page, name: str) -> str:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Invite")).click()
    await page.get_by_label(re.compile("name$")).fill(name)
    await page.get_by_role("button", name="Create invitation link").click()
    link = await page.get_by_test_id("invite-link").text_content()
    assert link and "#/join/" in link
    return link


@dataclass
class Practice:
    admin: User
    therapist: User
    client: User
    client_name: str


async def therapist_with_terms(browser: Browser, server: ConfidantServer, client_name: str,
                               artifacts: Path | None = None,
                               on_therapist_key: KeyCheck | None = None) -> tuple[User, User, str]:
    """Admin joins from the bootstrap link and invites a therapist, who publishes terms and invites a client:
    returns (admin, therapist, the client's invitation link)."""
    admin = await open_user(browser, server)
    admin.recovery_key = await join(admin.page, f"/#/join/{server.admin_code()}")
    await expect(admin.page.get_by_role("heading", name="Relay health")).to_be_visible()
    therapist_link = await create_invitation(admin.page, "Dr. Maya Lind")

    therapist = await open_user(browser, server)
    therapist.recovery_key = await join(therapist.page, therapist_link, on_key=on_therapist_key)
    await expect(therapist.page.get_by_role("heading", name="Your clients")).to_be_visible()
    await therapist.page.get_by_role("link", name="Terms").click()
    await therapist.page.get_by_label("Terms", exact=True).fill(TERMS)
    await therapist.page.get_by_role("button", name="Publish terms").click()
    await expect(therapist.page.get_by_text("Published version 1")).to_be_visible()
    client_link = await create_invitation(therapist.page, client_name)
    if artifacts is not None:
        await shot(therapist.page, artifacts, "therapist-invite")
    return admin, therapist, client_link


async def practice(browser: Browser, server: ConfidantServer, client_name: str = "Sam Rivera",
                   artifacts: Path | None = None, on_therapist_key: KeyCheck | None = None) -> Practice:
    """A new practice's first day, all in the browser: admin, therapist with terms, and a client who reads
    and accepts the terms."""
    admin, therapist, client_link = await therapist_with_terms(
        browser, server, client_name, artifacts, on_therapist_key
    )
    client = await open_user(browser, server)
    client.recovery_key = await join(client.page, client_link)
    # Consent before contact: the terms, in full, are the first thing the client sees.
    await expect(client.page.get_by_role("heading", name="Confidentiality terms")).to_be_visible()
    await expect(client.page.get_by_role("document", name="Terms text")).to_have_text(TERMS)
    if artifacts is not None:
        await shot(client.page, artifacts, "client-terms")
    await client.page.get_by_label("I have read these terms in full.").check()
    await client.page.get_by_role("button", name="I accept these terms").click()
    await expect(client.page.get_by_label("Message to Your therapist")).to_be_visible()
    return Practice(admin, therapist, client, client_name)


async def open_chat(therapist: Page, client_name: str) -> None:
    await therapist.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
    clients = therapist.get_by_role("list", name="Clients")
    await clients.get_by_role("link", name=re.compile(re.escape(client_name))).click()
    await expect(therapist.get_by_label(f"Message to {client_name}")).to_be_visible()


async def send(page: Page, to_name: str, text: str) -> None:
    box = page.get_by_label(f"Message to {to_name}")
    await box.fill(text)
    await box.press("Enter")


def bubble(page: Page, text: str) -> Locator:
    return page.locator(".messages .bubble").filter(has_text=re.compile(f"^{re.escape(text)}$"))


async def shot(page: Page, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"))


def assert_server_never_saw(server: ConfidantServer, texts: list[str]) -> None:
    """Stop the server, then look for each text in every file it wrote (database, WAL, logs)."""
    server.stop()
    blobs = [f.read_bytes() for f in server.storage_files()]
    blobs += [path.read_bytes() for path in (server.log_path, server.stdout_path) if path.exists()]
    for text in texts:
        needle = text.encode()
        assert not any(needle in blob for blob in blobs), f"plaintext found on the server: {text!r}"


def accept_dialogs(page: Page) -> None:
    """Say yes to "Leave the session?" (and to the browser's own question on reload)."""

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.on("dialog", accept)


async def go_to(page: Page, name: str) -> None:
    """Follow a main-navigation link; on a phone-sized screen the navigation is behind the Menu button."""
    menu = page.get_by_role("button", name="Menu")
    if await menu.is_visible():
        await menu.click()
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


async def link_new_device(browser: Browser, server: ConfidantServer, existing: Page,
                          artifacts: Path | None = None, audit: dict[str, object] | None = None,
                          passphrase: str = PASSPHRASE) -> User:
    """A new browser (a phone, 390x844) added to `existing`'s account the only way there is: it shows a code,
    the existing (unlocked) device enters it, both show the same comparison number, and the person confirms
    on both. With `audit`, each linking screen's axe violations are stored in it."""
    new = await open_user(browser, server, "/#/link")
    await new.page.set_viewport_size({"width": 390, "height": 844})
    if audit is not None:
        audit["new device: passphrase"] = await violations(new.page)
    await new.page.get_by_label("Passphrase", exact=True).fill(passphrase)
    await new.page.get_by_label("Repeat the passphrase").fill(passphrase)
    await new.page.get_by_role("button", name="Continue").click()
    code = await new.page.get_by_test_id("link-code").text_content()
    assert code and len(code.replace(" ", "")) == 53
    if artifacts is not None:
        await shot(new.page, artifacts, "link-new-device-code")
    if audit is not None:
        audit["new device: code"] = await violations(new.page)
    await go_to(existing, "Devices")
    if audit is not None:
        audit["existing device: enter code"] = await violations(existing)
    await existing.get_by_label("Code shown on the new device").fill(code)
    await existing.get_by_role("button", name="Continue").click()
    shown_existing = await existing.get_by_test_id("link-comparison").text_content()
    shown_new = await new.page.get_by_test_id("link-comparison").text_content()
    assert shown_existing and re.fullmatch(r"\d{3} \d{3}", shown_existing)
    assert shown_existing == shown_new
    if artifacts is not None:
        await existing.get_by_test_id("link-comparison").scroll_into_view_if_needed()
        await shot(new.page, artifacts, "link-new-device-compare")
        await shot(existing, artifacts, "link-existing-device-approve")
    if audit is not None:
        audit["new device: compare"] = await violations(new.page)
        audit["existing device: compare"] = await violations(existing)
    await new.page.get_by_role("button", name="Both show the same number").click()
    await existing.get_by_role("button", name="Same number: approve").click()
    await expect(existing.get_by_role("status").filter(has_text="Approved. The new device")).to_be_visible()
    return new


async def sdk_therapist_and_browser_client(
    browser: Browser, server: ConfidantServer, keystore: Path
) -> tuple[User, Device, User]:
    """An administrator in the browser invites a therapist who is a Python SDK device; the therapist publishes
    TERMS and invites a browser client, who reads and accepts them. Returns (admin, therapist, client); the
    caller closes the therapist."""
    admin = await open_user(browser, server)
    await join(admin.page, f"/#/join/{server.admin_code()}")
    await expect(admin.page.get_by_role("heading", name="Relay health")).to_be_visible()
    link = await create_invitation(admin.page, "Dr. Scripted")
    therapist = await Device.register(server.url, link, keystore, "a passphrase")
    try:
        await therapist.publish_terms(TERMS)
        invitation = await therapist.invite_client()
        client = await open_user(browser, server)
        c = client.page
        await join(c, f"/#/join/{invitation['code']}")
        await expect(c.get_by_role("document", name="Terms text")).to_have_text(TERMS)  # rendered, final
        await c.get_by_label("I have read these terms in full.").check()
        await c.get_by_role("button", name="I accept these terms").click()
        await expect(c.get_by_label("Message to Your therapist")).to_be_visible()
    except BaseException:
        await therapist.close()
        raise
    return admin, therapist, client
