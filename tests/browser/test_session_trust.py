"""Video sessions under the trust rules in the browser, through the hostile relay (docs/TRUST.md).

- Sealed signaling the relay replays after a reset, or swaps (another sender's keys under the therapist's
  peer and join, or a join it made itself), is refused by the browser, counted on the call screen, and the
  call stays with the real therapist.

- The therapist's browser will not admit a client whose account key changed and was not accepted: Admit is
  refused with the reason and a link to the verify screen, and nothing is sealed to the relay's key.
- "Require verified safety numbers before a first session": switched on in the admin dashboard, enforced by
  both browsers, and still enforced after the relay starts serving it switched off.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from crypto import boxed
from crypto.keys import IdentityKeyPair
from signaling.messages import SignalKind, SignalMessage
from tests.browser._ui import accept_dialogs, go_to, practice, shot, unlock, violations
from tests.browser.test_trust import Attacker, account_id_of, record_tokens, record_traffic, relay
from tests.browser.test_video import client_joins, schedule
from tests.fixtures.hostile_relay import HostileControl, HostileServer
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser
__all__ = ["relay"]  # the hostile relay's control fixture of tests/browser/test_trust.py
SERVER_CLASS = HostileServer  # this module's server is the hostile relay (tests/browser/conftest.py)
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1180, "height": 760}
JSON = dict[str, Any]
FRAMES = "n => Number(document.querySelector('.quality')?.dataset.frames || 0) > n"


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
    therapist_id = await account_id_of(t, server)
    await schedule(t, [p.client_name])

    # First the relay swaps the THERAPIST's key for the client: the client does not even knock, and says why.
    await relay.command("swap_account_key", Attacker().swap(therapist_id))
    await go_to(c, "Sessions")
    await c.get_by_role("link", name="Join").click()
    why = c.get_by_role("alert").filter(has_text="security key changed")
    await expect(why).to_be_visible()
    await expect(c.get_by_role("link", name="Verify Your therapist")).to_have_attribute(
        "href", f"#/verify/{therapist_id}"
    )
    await c.set_viewport_size(PHONE)
    await shot(c, artifacts, "join-refused-key-changed")
    assert await violations(c) == []
    await c.set_viewport_size(DESKTOP)
    await relay.command("swap_account_key", {"account_id": therapist_id, "clear": True})

    # Then the client's key, for the therapist.
    attacker = Attacker()
    await relay.command("swap_account_key", attacker.swap(client_id))
    traffic = record_traffic(t)
    await t.reload()
    await unlock(t)
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
    await a.set_viewport_size(PHONE)
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


async def me_of(page: Page, server: ConfidantServer) -> JSON:
    """The page's account and device, as the server knows them (read with the page's own token)."""
    tokens = record_tokens(page)
    await page.reload()
    await unlock(page)
    await expect(page.get_by_role("banner").get_by_role("button", name="Lock")).to_be_visible()
    async with aiohttp.ClientSession() as http, http.get(
        f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {tokens[-1]}"}
    ) as r:
        me: JSON = await r.json()
    return me


def refused_count(text: str | None) -> int:
    found = re.match(r"^(\d+) call message", text or "")
    return int(found.group(1)) if found else 0


def refused_text(n: int) -> str:
    return "1 call message was refused" if n == 1 else f"{n} call messages were refused"


def forged(sid: str, therapist: JSON, client_join: str, client_device: str, *, own_join: bool) -> JSON:
    """An offer for the client claiming the therapist's peer, sealed by a join whose keys the relay holds.
    ``own_join``: the event carries the relay's own join statement for the therapist's device (not signed by
    the therapist's certified key); else the therapist's real join, with an offer it never sealed."""
    session, t_dev = bytes.fromhex(sid), bytes.fromhex(therapist["to_device"])
    c_dev = bytes.fromhex(client_device)
    theirs = boxed.JoinStatement.from_bytes(base64.b64decode(client_join))
    real = boxed.JoinStatement.from_bytes(base64.b64decode(therapist["join"]))
    attacker = boxed.Join.create(IdentityKeyPair.generate(), session, t_dev)
    from_join = attacker.join_id if own_join else real.join_id
    context = boxed.SignalContext(session, t_dev, c_dev, from_join, theirs.join_id)
    offer = SignalMessage(SignalKind.OFFER, sdp="v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=attacker\r\n").to_wire()
    payload = base64.b64encode(boxed.seal(attacker, theirs, context, 1, offer)).decode()
    join = base64.b64encode(attacker.statement.to_bytes()).decode() if own_join else therapist["join"]
    return {"session_id": sid, "from_peer": therapist["from_peer"], "join": join, "payload": payload}


async def test_replayed_and_swapped_sealed_signaling_through_the_relay_is_refused_and_shown(
    browser: Browser, server: ConfidantServer, relay: HostileControl, artifacts: Path
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    accept_dialogs(t)
    accept_dialogs(c)
    therapist_device = (await me_of(t, server))["device_id"]
    client_device = (await me_of(c, server))["device_id"]
    await schedule(t, [p.client_name])
    await client_joins(c)
    await open_waiting_room(t)
    await t.get_by_role("button", name=f"Admit {p.client_name}").click()
    call = c.get_by_role("region", name="Video session")
    await expect(call).to_have_attribute("data-call-state", "connected", timeout=30_000)
    sid = c.url.rsplit("/", 1)[-1]
    before_reset = (await relay.command("signals", {"to_device": client_device}))["signals"]
    assert before_reset, "the relay saw the therapist's sealed offer"

    # A reset: the client's page reloads and joins again (fresh ephemeral keys); the call comes back.
    await c.reload()
    await unlock(c)
    await expect(call).to_have_attribute("data-call-state", "connected", timeout=30_000)
    notice = c.locator(".call-refused")

    async def refused_now() -> int:
        return refused_count(await notice.text_content()) if await notice.is_visible() else 0

    # 1. The relay replays the therapist's old offer (sealed to the client's previous join).
    seen = await refused_now()
    await relay.command("inject_signal", {"to_device": client_device, "event": before_reset[0]["event"]})
    await expect(notice).to_contain_text(refused_text(seen + 1))
    await expect(notice).to_contain_text("Your therapist's verified device")

    # 2. It swaps the sender: an offer from its own keys, under the therapist's real join, then under a join
    # it made for the therapist's device. Neither opens; the call stays with the real therapist.
    latest = (await relay.command("signals", {"to_device": client_device}))["signals"][-1]["event"]
    from_client = (await relay.command("signals", {"to_device": therapist_device}))["signals"][-1]["event"]
    therapist = {**latest, "to_device": therapist_device}
    for own_join in (False, True):
        seen = await refused_now()
        event = forged(sid, therapist, from_client["join"], client_device, own_join=own_join)
        await relay.command("inject_signal", {"to_device": client_device, "event": event})
        await expect(notice).to_contain_text(refused_text(seen + 1))
    await c.set_viewport_size(PHONE)
    await shot(c, artifacts, "call-signal-refused")
    assert await violations(c) == []
    await expect(call).to_have_attribute("data-call-state", "connected")
    frames = int(await c.locator(".quality").get_attribute("data-frames") or 0)
    await c.wait_for_function(FRAMES, arg=frames + 10, timeout=20_000)  # the real therapist's video goes on
    assert p.therapist.errors == [] and p.client.errors == []
