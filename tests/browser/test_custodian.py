"""The records custodian in Chromium, against the hostile relay: the administrator turns it on from the
dashboard with the key `confidant custodian keygen` printed; the therapist adds the disclosure to their terms;
the client sees it and accepts; a note written in the browser then opens with the offline key (`confidant
custodian export` + `open`); when the operator swaps in its own key, or also serves terms disclosing it that
the client never signed, the therapist is warned and nothing is sealed to it. axe finds nothing on the
screens; the server never sees a note."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from client._wire import b64e
from crypto import custodian as cu
from tests.browser._ui import assert_server_never_saw, go_to, open_chat, practice, shot, violations
from tests.fixtures.hostile_relay import HostileControl, HostileServer
from tests.fixtures.server_proc import CONFIDANT, ConfidantServer

pytestmark = pytest.mark.browser

NOTE = "Second session: sleep better, one panic attack at work."
LATER = "Third session: written after the operator swapped the key."
FORGED = "Fourth session: the operator now also rewrites the terms."


SERVER_CLASS = HostileServer  # this module's server is the hostile relay (tests/browser/conftest.py)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONFIDANT), "custodian", *args], capture_output=True, text=True, timeout=60)


def _copies(server: ConfidantServer) -> int:
    conn = sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM custodian_copies").fetchone()[0])
    finally:
        conn.close()


async def _write_note(t: Page, text: str) -> None:
    await t.get_by_label("New note", exact=True).fill(text)
    await t.get_by_role("button", name="Save note").click()
    await expect(t.get_by_role("list", name="Notes, newest first").get_by_text(text)).to_be_visible()


async def test_admin_turns_the_custodian_on_and_the_offline_key_opens_a_browser_note(
    browser: Browser, server: ConfidantServer, artifacts: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "custodian.key"
    made = _cli("keygen", "--out", str(key_file))
    assert made.returncode == 0, made.stderr
    public_line = re.search(r"public key:\s+(\S+)", made.stdout)
    assert public_line is not None
    fingerprint = cu.custodian_fingerprint(cu.decode_public_key(public_line[1]))

    p = await practice(browser, server)
    a, t, c = p.admin.page, p.therapist.page, p.client.page

    # The administrator's card on the dashboard: off by default, then on with the key.
    await go_to(a, "Dashboard")
    card = a.get_by_role("region", name="Records custodian")
    await expect(card.get_by_test_id("custodian-status")).to_contain_text("Off")
    await card.get_by_label("Custodian public key").fill("not a key")
    await card.get_by_role("button", name="Turn on with this key").click()
    await expect(card.get_by_test_id("custodian-result")).to_contain_text("Paste the whole public key line")
    await card.get_by_label("Custodian public key").fill(public_line[1])
    await card.get_by_role("button", name="Turn on with this key").click()
    await expect(card.get_by_test_id("custodian-status")).to_contain_text(f"fingerprint {fingerprint}")
    assert await violations(a) == []
    await card.scroll_into_view_if_needed()
    await shot(a, artifacts, "admin-custodian")
    await a.set_viewport_size({"width": 390, "height": 844})
    assert await card.evaluate("(e) => e.scrollWidth <= e.clientWidth")  # nothing in the card overflows it
    # The staff table scrolls inside its own region; the dashboard never scrolls sideways on a phone.
    assert await a.evaluate("document.documentElement.scrollWidth <= innerWidth")
    await a.set_viewport_size({"width": 1180, "height": 760})
    # The administrator's own recovery key is made again from the dashboard (there is no Account screen).
    recovery = a.get_by_role("region", name="Recovery key")
    await recovery.get_by_role("button", name="Make a new recovery key").click()
    await recovery.get_by_role("button", name="Yes, replace my recovery key").click()
    await expect(recovery.get_by_test_id("recovery-key")).to_be_visible()

    # The therapist discloses it in new terms.
    await t.get_by_role("link", name="Terms").click()
    offer = t.get_by_test_id("custodian-offer")
    await expect(offer).to_contain_text(fingerprint)
    await offer.get_by_role("button", name="Add the custodian disclosure").click()
    await expect(t.get_by_label("Terms", exact=True)).to_have_value(re.compile(re.escape(public_line[1])))
    assert await violations(t) == []
    await t.get_by_role("button", name="Publish terms").click()
    await t.get_by_role("button", name="Publish version 2").click()
    await expect(t.get_by_text("Published version 2")).to_be_visible()

    # Before the client accepts, notes stay the therapist's alone.
    await open_chat(t, p.client_name)
    await t.locator(".chat-head").get_by_role("link", name="Notes").click()
    await _write_note(t, "First session, before the new terms.")
    await expect(t.get_by_test_id("custodian-note-status")).to_contain_text("has not accepted")
    assert _copies(server) == 0

    # The client reads the disclosure, with the fingerprint, and accepts.
    await c.get_by_role("button", name="Read what changed").click()
    await expect(c.get_by_test_id("custodian-disclosed")).to_contain_text(fingerprint)
    assert await violations(c) == []
    await c.get_by_test_id("custodian-disclosed").scroll_into_view_if_needed()
    await shot(c, artifacts, "terms-custodian-disclosure")
    await _fits_a_phone(c, c.get_by_test_id("custodian-disclosed"), c.locator(".terms-review"))
    await c.get_by_label("I have read the updated terms.").check()
    await c.get_by_role("button", name="I accept the updated terms").click()
    await expect(c.get_by_text("updated their terms")).to_have_count(0)

    await _write_note(t, NOTE)
    await expect(t.get_by_test_id("custodian-note-status")).to_contain_text("Also encrypted")
    assert await violations(t) == []
    assert _copies(server) == 1

    therapist_id = _therapist_id(server)
    export = tmp_path / "copies.json"
    done = _cli("export", "--data-dir", str(server.data_dir), "--account", therapist_id, "--out", str(export))
    assert done.returncode == 0, done.stderr
    opened = _cli("open", "--key", str(key_file), str(export))
    assert opened.returncode == 0, opened.stderr
    assert [n["note"]["text"] for n in json.loads(opened.stdout)["notes"]] == [NOTE]

    # The operator swaps in its own key: the device refuses it and says so.
    _, operators = cu.new_custodian_keypair()
    await HostileControl(server.url).command("swap_custodian_key", {"public_key": b64e(operators)})
    await _write_note(t, LATER)
    await expect(t.get_by_role("alert").filter(has_text="another custodian key")).to_be_visible()
    # ... and serves the therapist terms that disclose its key: the client never signed that text.
    forged = "Nothing is private.\n\n" + cu.disclosure_text(operators)
    await HostileControl(server.url).command(
        "rewrite_terms", {"therapist_id": _therapist_id(server), "text": forged}
    )
    await _write_note(t, FORGED)
    await expect(t.get_by_role("alert").filter(has_text="not the ones this client signed")).to_be_visible()
    assert _copies(server) == 1
    assert p.therapist.errors == [] and p.client.errors == [] and p.admin.errors == []
    assert_server_never_saw(server, [NOTE, LATER, FORGED])


async def _fits_a_phone(page: Page, target: Locator, area: Locator) -> None:
    """At 390x844 the area (card) fits the width with nothing overflowing it, and the element is reachable;
    back to desktop after."""
    await page.set_viewport_size({"width": 390, "height": 844})
    await target.scroll_into_view_if_needed()
    await expect(target).to_be_in_viewport()
    box = await area.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert await area.evaluate("(e) => e.scrollWidth <= e.clientWidth")
    assert await violations(page) == []
    await page.set_viewport_size({"width": 1180, "height": 760})


def _therapist_id(server: ConfidantServer) -> str:
    """The operator knows which therapist left: the one therapist account of this practice."""
    conn = sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True)
    try:
        (account,) = conn.execute("SELECT account_id FROM accounts WHERE role = 'therapist'").fetchone()
        return str(account)
    finally:
        conn.close()
