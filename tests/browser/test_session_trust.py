"""Video sessions under the trust rules in the browser, through the hostile relay (docs/TRUST.md).

- The therapist's browser will not admit a client whose account key changed and was not accepted: Admit is
  refused with the reason and a link to the verify screen, and nothing is sealed to the relay's key.
- "Require verified safety numbers before a first session": switched on in the admin dashboard, enforced by
  both browsers, and still enforced after the relay starts serving it switched off.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.browser._ui import go_to, practice, shot, unlock, violations
from tests.browser.test_trust import Attacker, account_id_of, record_traffic, relay, server
from tests.browser.test_video import accept_dialogs, client_joins, schedule
from tests.fixtures.hostile_relay import HostileControl
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser
__all__ = ["relay", "server"]  # the hostile relay fixtures of tests/browser/test_trust.py
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1180, "height": 760}


async def open_waiting_room(t: Page) -> None:
    await t.get_by_role("link", name="Sessions").click()
    await t.get_by_role("link", name="Open waiting room").click()


async def test_admit_is_refused_while_the_clients_key_changed(
    browser: Browser, server: ConfidantServer, relay: HostileControl, artifacts: Path
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    accept_dialogs(t)
    client_id = await account_id_of(c, server)
    attacker = Attacker()
    await relay.command("swap_account_key", attacker.swap(client_id))
    traffic = record_traffic(t)
    await t.reload()
    await unlock(t)

    await schedule(t, [p.client_name])
    await client_joins(c)
    await open_waiting_room(t)
    await t.get_by_role("button", name=f"Admit {p.client_name}").click()
    refused = t.get_by_role("alert").filter(has_text="security key changed")
    await expect(refused).to_be_visible()
    await expect(refused.get_by_role("link", name=f"Verify {p.client_name}")).to_have_attribute(
        "href", f"#/verify/{client_id}"
    )
    await t.set_viewport_size(PHONE)
    await shot(t, artifacts, "admit-refused-key-changed")
    assert await violations(t) == []
    await t.set_viewport_size(DESKTOP)
    await expect(c.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
    assert not any(attacker.device_id in x for x in traffic), "something was addressed to the relay's device"
    assert not any('"call.admit"' in x for x in traffic), "the admission reached the server"
    await attacker.received_nothing(relay)

    # The relay lists the key the therapist trusts again: the same client is let in.
    await relay.command("swap_account_key", {"account_id": client_id, "clear": True})
    await t.get_by_role("button", name=f"Admit {p.client_name}").click()
    await expect(c.get_by_role("region", name="Video session")).to_have_attribute(
        "data-call-state", "connected", timeout=30_000
    )
    assert not any(attacker.device_id in x for x in traffic)
    assert p.therapist.errors == [] and p.client.errors == []


async def test_verified_safety_numbers_required_even_when_the_relay_says_the_rule_is_off(
    browser: Browser, server: ConfidantServer, relay: HostileControl, artifacts: Path
) -> None:
    p = await practice(browser, server)
    a, t, c = p.admin.page, p.therapist.page, p.client.page
    accept_dialogs(t)
    client_id = await account_id_of(c, server)

    # The administrator switches the rule on in the dashboard.
    await go_to(a, "Dashboard")
    rule = a.get_by_label("Require verified safety numbers before a first session")
    await expect(rule).to_be_enabled()
    await rule.check()
    await expect(a.get_by_test_id("practice-result")).to_contain_text("must verify")
    await a.get_by_role("region", name="Practice rules").scroll_into_view_if_needed()
    await shot(a, artifacts, "admin-practice-rules")
    assert await violations(a) == []

    # Both browsers learn it when they start; from then on the relay claims the rule is off.
    for page in (t, c):
        await page.reload()
        async with page.expect_response(lambda r: r.url.endswith("/api/v1/practice")) as learned:
            await unlock(page)
        assert (await (await learned.value).json())["require_verified_safety_numbers"] is True
        await expect(page.get_by_role("banner").get_by_role("button", name="Lock")).to_be_visible()
    await relay.command("practice_off")

    # The client verified the therapist from the invitation link: it may knock, and is told about the rule.
    await schedule(t, [p.client_name])
    await c.set_viewport_size(PHONE)
    await client_joins(c)
    note = c.get_by_text("requires verified safety numbers before a session")
    await expect(note).to_be_visible()
    await shot(c, artifacts, "client-waiting-practice-rule")
    assert await violations(c) == []

    # The therapist never compared the client's number: Admit is refused, with the way to verify.
    await open_waiting_room(t)
    await t.get_by_role("button", name=f"Admit {p.client_name}").click()
    refused = t.get_by_role("alert").filter(has_text="requires a verified safety number")
    await expect(refused).to_be_visible()
    await t.set_viewport_size(PHONE)
    await shot(t, artifacts, "admit-refused-unverified")
    assert await violations(t) == []
    await t.set_viewport_size(DESKTOP)
    await expect(c.get_by_role("heading", name="You are in the waiting room")).to_be_visible()

    # They compare numbers; the therapist marks the client verified and admits.
    await refused.get_by_role("link", name=f"Verify {p.client_name}").click()
    await expect(t.get_by_role("heading", name=f"Verify {p.client_name}")).to_be_visible()
    assert t.url.endswith(f"#/verify/{client_id}")
    await t.get_by_role("button", name="The numbers match").click()
    await expect(t.get_by_role("status").filter(has_text="marked as verified")).to_be_visible()
    await open_waiting_room(t)
    await t.get_by_role("button", name=f"Admit {p.client_name}").click()
    await expect(c.get_by_role("region", name="Video session")).to_have_attribute(
        "data-call-state", "connected", timeout=30_000
    )
    assert p.therapist.errors == [] and p.client.errors == [] and p.admin.errors == []
