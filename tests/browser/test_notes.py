"""The therapist's notes in Chromium: no second recovery key (the one shown at account creation is
enough), notes autosaved and listed newest first, search on the device, edit, delete; a relay that swaps two
notes gets neither shown; axe finds nothing; the server never sees a note or the key. Two browsers (approved
linking) and restoring from the recovery key: tests/browser/test_recovery.py."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from storage.sqlite.database import DATABASE_FILE
from tests.browser._ui import (
    assert_server_never_saw,
    open_chat,
    practice,
    shot,
    unlock,
    violations,
)
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

NOTE_1 = "Slept better; nightmares twice this week. Try grounding before bed."
NOTE_2 = "Talked about her sister. Follow up on the panic attack at work."


async def _open_notes(page: Page, client_name: str) -> None:
    await open_chat(page, client_name)
    await page.locator(".chat-head").get_by_role("link", name="Notes").click()
    await expect(page.get_by_role("heading", name=f"Notes · {client_name}")).to_be_visible()


async def _write(page: Page, text: str) -> None:
    box = page.get_by_label("New note", exact=True)
    await box.fill(text)
    await page.get_by_role("button", name="Save note").click()
    await expect(page.get_by_role("list", name="Notes, newest first").get_by_text(text)).to_be_visible()
    await expect(box).to_have_value("")  # a fresh editor for the next note


def _notes(page: Page):
    return page.get_by_role("list", name="Notes, newest first").locator(".note-text")


async def test_notes_autosaved_searched_edited_and_never_shown_swapped(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server)
    t = p.therapist.page
    key_text = p.therapist.recovery_key  # shown when the account was made (tests/browser/test_recovery.py)
    await _open_notes(t, p.client_name)
    # The vault key was made with the account: no second recovery key, notes open at once.
    await expect(t.get_by_test_id("recovery-key")).to_have_count(0)

    await _write(t, NOTE_1)
    await t.get_by_label("New note", exact=True).fill(NOTE_2)  # autosaved without pressing anything
    await expect(t.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    await expect(_notes(t)).to_have_text([NOTE_2, NOTE_1])  # newest first
    await t.get_by_label("Search notes on this device").fill("GROUNDING")
    await expect(_notes(t)).to_have_text([NOTE_1])
    await t.get_by_label("Search notes on this device").fill("")
    assert await violations(t) == []
    await t.set_viewport_size({"width": 390, "height": 844})
    await shot(t, artifacts, "notes-phone")
    await t.set_viewport_size({"width": 1180, "height": 760})

    # Edit, then delete: the record leaves the server.
    await t.get_by_role("button", name=re.compile("^Edit note")).first.click()
    await t.get_by_role("textbox", name="Edit note").fill(NOTE_2 + " (edited)")
    await t.get_by_role("button", name="Done").click()
    await expect(_notes(t).filter(has_text="(edited)")).to_be_visible()
    await t.get_by_role("button", name=re.compile("^Delete note")).first.click()
    await expect(_notes(t)).to_have_count(1)
    await t.get_by_label("New note", exact=True).fill(NOTE_2)
    await t.get_by_role("button", name="Save note").click()
    await expect(_notes(t)).to_have_count(2)
    assert p.therapist.errors == []

    # A hostile server swaps the two notes' ciphertexts: after a reload neither is shown as the other.
    db = sqlite3.connect(server.data_dir / DATABASE_FILE, timeout=10)
    try:
        with db:
            rows = db.execute(
                "SELECT record_id, ciphertext FROM vault_records ORDER BY seq DESC LIMIT 2"
            ).fetchall()
            for (rid, _), (_, other) in zip(rows, reversed(rows), strict=True):
                db.execute("UPDATE vault_records SET ciphertext = ? WHERE record_id = ?", (other, rid))
    finally:
        db.close()
    await t.reload()
    await unlock(t)
    await _open_notes(t, p.client_name)
    await expect(t.get_by_role("alert").filter(has_text="could not be read")).to_contain_text("2 records")
    await expect(_notes(t)).to_have_count(0)
    assert await violations(t) == []
    assert_server_never_saw(
        server, [NOTE_1, NOTE_2, "(laptop)", "(phone)", key_text, key_text.replace("-", "")]
    )


async def _client_id(page: Page, client_name: str) -> str:
    await open_chat(page, client_name)
    account = await page.locator(".chat").get_attribute("data-account")
    assert account
    return account
