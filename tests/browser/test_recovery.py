"""The vault key across a therapist's browsers, in Chromium: approved linking carries it (notes and the
conversation history on the new browser at once; two browsers editing one note keep both versions); after
losing every device, the recovery key shown when the account was made re-creates it in a fresh browser
profile (notes and history back, the client talks to the restored browser); a replaced or mistyped key fails
clearly; the server never sees a note or a key."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from crypto import vault as vc
from storage.sqlite.database import DATABASE_FILE
from tests.browser._ui import (
    PASSPHRASE,
    KeyCheck,
    assert_server_never_saw,
    bubble,
    link_new_device,
    open_chat,
    open_user,
    practice,
    send,
    shot,
    violations,
)
from tests.e2e._scan import find_leaks
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

NOTE = "Panic attacks down to one a week. Next: exposure hierarchy, start with the bus."
MINE = " Edited on the laptop."
THEIRS = " Edited on the phone."


async def _open_notes(page: Page, client_name: str) -> None:
    await open_chat(page, client_name)
    await page.locator(".chat-head").get_by_role("link", name="Notes").click()
    await expect(page.get_by_role("heading", name=f"Notes · {client_name}")).to_be_visible()


def _notes(page: Page):
    return page.get_by_role("list", name="Notes, newest first").locator(".note-text")


async def _first_note(page: Page, client_name: str) -> None:
    """The vault key was made at account creation (with its recovery key): notes open unlocked at once."""
    await _open_notes(page, client_name)
    box = page.get_by_label("New note", exact=True)
    await box.fill(NOTE)
    await page.get_by_role("button", name="Save note").click()
    await expect(_notes(page)).to_have_text([NOTE])


def _key_screen(artifacts: Path) -> KeyCheck:
    """Right after the therapist's account is made, on a phone: the key once, downloadable, printable."""

    async def check(page: Page, text: str) -> None:
        await page.set_viewport_size({"width": 390, "height": 844})
        assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}", text)
        async with page.expect_download() as download:
            await page.get_by_role("link", name="Download").click()
        assert text in Path(await (await download.value).path()).read_text()
        await expect(page.get_by_role("button", name="Print")).to_be_visible()
        assert await violations(page) == []
        await shot(page, artifacts, "recovery-key-created")
        await page.set_viewport_size({"width": 1180, "height": 760})

    return check


def _backup(server: ConfidantServer, recovery_text: str) -> tuple[str, dict[int, bytes]]:
    """(account id, the account secrets in its recovery backup), found and opened with the recovery key as a
    restoring device does (every account of the practice has a backup since its creation)."""
    key = vc.parse_recovery_key(recovery_text)
    db = sqlite3.connect(f"file:{server.data_dir / DATABASE_FILE}?mode=ro", uri=True, timeout=10)
    try:
        (account, backup) = db.execute(
            "SELECT account_id, ciphertext FROM recovery_backups WHERE lookup_id = ?",
            (vc.derive_recovery(key).lookup_id.hex(),),
        ).fetchone()
    finally:
        db.close()
    return account, vc.open_backup(key, bytes.fromhex(account), backup)


def _secrets(server: ConfidantServer, recovery_text: str) -> dict[int, bytes]:
    return _backup(server, recovery_text)[1]


def _history_texts(server: ConfidantServer, recovery_text: str) -> list[str]:
    """What the person holding the recovery key reads in the history records the server stores (the test opens
    them in Python: the browser's records follow the SDK's format)."""
    account, secrets = _backup(server, recovery_text)
    vault_key = secrets[vc.SECRET_VAULT_KEY]
    db = sqlite3.connect(f"file:{server.data_dir / DATABASE_FILE}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute(
            "SELECT record_id, version, ciphertext FROM vault_records WHERE account_id = ?", (account,)
        ).fetchall()
    finally:
        db.close()
    texts = []
    for record_id, version, sealed in rows:
        kind, body = vc.open_record(
            vault_key, bytes.fromhex(account), bytes.fromhex(record_id), version, sealed
        )
        if kind == vc.RecordKind.HISTORY:
            texts += [m["text"] for m in json.loads(body)["messages"]]
    return texts


async def _until_in_history(server: ConfidantServer, recovery_text: str, texts: list[str]) -> None:
    deadline = time.monotonic() + 30  # a loaded machine; the write follows the message by ~0.2 s
    while not set(texts) <= set(_history_texts(server, recovery_text)):
        assert time.monotonic() < deadline, f"not in the vault's history: {texts}"
        await asyncio.sleep(0.1)


async def test_a_linked_browser_reads_the_notes_and_concurrent_edits_keep_both(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server)
    laptop = p.therapist.page
    key_text = p.therapist.recovery_key
    await _first_note(laptop, p.client_name)
    await send(p.client.page, "Your therapist", "Could we meet an hour later on Monday?")
    await open_chat(laptop, p.client_name)
    await expect(bubble(laptop, "Could we meet an hour later on Monday?")).to_be_visible()
    await _until_in_history(server, key_text, ["Could we meet an hour later on Monday?"])

    phone_user = await link_new_device(browser, server, laptop)
    phone = phone_user.page
    await phone.set_viewport_size({"width": 1180, "height": 760})
    await expect(phone.get_by_role("heading", name="Your clients")).to_be_visible()
    # The conversation from before this browser existed, from the vault's history.
    await open_chat(phone, p.client_name)
    await expect(bubble(phone, "Could we meet an hour later on Monday?")).to_be_visible()
    await _open_notes(phone, p.client_name)
    # Approved linking carried the vault key: no recovery key asked, the note is there.
    await expect(phone.get_by_role("heading", name="Your notes are locked on this device")).to_have_count(0)
    await expect(_notes(phone)).to_have_text([NOTE])

    # Both browsers open the same note and change it at the same time: both versions are kept and shown.
    await _open_notes(laptop, p.client_name)
    for page in (laptop, phone):
        await page.get_by_role("button", name=re.compile("^Edit note")).first.click()
    await laptop.get_by_role("textbox", name="Edit note").fill(NOTE + MINE)
    await laptop.get_by_role("button", name="Done").click()
    await expect(_notes(laptop)).to_have_text([NOTE + MINE])
    await phone.get_by_role("textbox", name="Edit note").fill(NOTE + THEIRS)
    await phone.get_by_role("button", name="Done").click()
    await expect(phone.get_by_role("alert").filter(has_text="Both versions are kept")).to_be_visible()
    for page in (phone, laptop):
        await expect(_notes(page)).to_have_count(2)
        await expect(_notes(page).filter(has_text=MINE)).to_have_count(1)
        await expect(_notes(page).filter(has_text=THEIRS)).to_have_count(1)
    await expect(phone.get_by_text(re.compile("^Conflicting copy"))).to_be_visible()
    assert await violations(phone) == []
    await shot(phone, artifacts, "notes-conflict")
    for user in (p.therapist, phone_user):
        assert user.errors == []


async def test_a_therapist_who_lost_every_device_restores_from_the_recovery_key(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server, on_therapist_key=_key_screen(artifacts))
    t, c = p.therapist.page, p.client.page
    key_text = p.therapist.recovery_key  # the one shown when the account was made
    await _first_note(t, p.client_name)
    await send(c, "Your therapist", "I missed the bus again today.")
    await open_chat(t, p.client_name)
    await expect(bubble(t, "I missed the bus again today.")).to_be_visible()
    await send(t, p.client_name, "That's ok. Let's plan it together on Thursday.")
    await expect(bubble(c, "That's ok. Let's plan it together on Thursday.")).to_be_visible()
    await _until_in_history(
        server, key_text, ["I missed the bus again today.", "That's ok. Let's plan it together on Thursday."]
    )
    await p.therapist.context.close()  # every device of the therapist is gone

    # A fresh browser profile, the key from account creation: account, notes and history come back.
    fresh = await open_user(browser, server)
    page = fresh.page
    await page.get_by_role("link", name="Restore with a recovery key").click()
    await expect(page.get_by_role("heading", name="Restore your account")).to_be_visible()
    await page.get_by_label("Recovery key").fill(key_text.lower())
    await page.get_by_label("New passphrase for this browser").fill(PASSPHRASE)
    await page.get_by_label("Repeat the passphrase").fill(PASSPHRASE)
    await page.get_by_role("button", name="Restore my account").click()
    await expect(page.get_by_role("heading", name="Your clients")).to_be_visible()
    await _open_notes(page, p.client_name)
    await expect(_notes(page)).to_have_text([NOTE])
    # The conversation's history came back from the vault, in order.
    await open_chat(page, p.client_name)
    await expect(page.locator(".messages .bubble")).to_have_text(
        ["I missed the bus again today.", "That's ok. Let's plan it together on Thursday."]
    )

    # Certified by the restored account key: the client's browser encrypts to it like to any device.
    await send(c, "Your therapist", "Thank you. See you Thursday.")
    await open_chat(page, p.client_name)
    await expect(bubble(page, "Thank you. See you Thursday.")).to_be_visible()
    assert await violations(page) == []
    await shot(page, artifacts, "restore-conversation")

    # Later, on the Account screen: a new recovery key (shown once); the first one stops working.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    section = page.get_by_role("region", name="Recovery key")
    await expect(section).to_contain_text("Your current recovery key was made on")
    await section.get_by_role("button", name="Make a new recovery key").click()
    await section.get_by_role("button", name="Yes, replace my recovery key").click()
    await expect(section.get_by_test_id("recovery-key")).to_be_visible()
    old_key, key_text = key_text, (await section.get_by_test_id("recovery-key").text_content() or "").strip()
    assert key_text != old_key
    async with page.expect_download() as download:
        await section.get_by_role("link", name="Download").click()
    assert key_text in Path(await (await download.value).path()).read_text()
    await expect(section.get_by_role("button", name="Print")).to_be_visible()
    assert await violations(page) == []
    await shot(page, artifacts, "recovery-key-new")
    await section.get_by_role("button", name="I have stored it safely").click()

    # Another fresh profile, on a phone: a typo and the replaced key both fail clearly.
    other = await open_user(browser, server, "/#/restore")
    o = other.page
    await o.set_viewport_size({"width": 390, "height": 844})
    await expect(o.get_by_role("heading", name="Restore your account")).to_be_visible()
    await o.get_by_label("Recovery key").fill("0000-0000-0000-0000-0000-0000-0000-0000")
    await o.get_by_label("New passphrase for this browser").fill(PASSPHRASE)
    await o.get_by_label("Repeat the passphrase").fill(PASSPHRASE)
    await o.get_by_role("button", name="Restore my account").click()
    await expect(o.get_by_role("alert")).to_contain_text("has a typo")
    await o.get_by_label("Recovery key").fill(old_key)  # replaced: it finds nothing any more
    await o.get_by_role("button", name="Restore my account").click()
    await expect(o.get_by_role("alert")).to_contain_text("does not match any account")
    assert await violations(o) == []
    await shot(o, artifacts, "restore-wrong-key")

    assert fresh.errors == [] and p.client.errors == [] and other.errors == []
    secrets = _secrets(server, key_text)  # the vault key and the account key seed the backup carried
    assert set(secrets) == {vc.SECRET_VAULT_KEY, vc.SECRET_ACCOUNT_SEED}
    assert_server_never_saw(
        server,
        [NOTE, "missed the bus", "plan it together", key_text, key_text.replace("-", ""), old_key],
    )
    keys = {"vault key": [secrets[vc.SECRET_VAULT_KEY]], "account key": [secrets[vc.SECRET_ACCOUNT_SEED]]}
    logs = [server.log_path, server.stdout_path]
    assert find_leaks([*server.storage_files(), *logs], keys) == []
