"""Trust that does not depend on the server, in the browser (docs/PROTOCOL.md §16-§21).

The relay is hostile here: every test runs the real app as the test-only hostile relay
(tests/fixtures/hostile_relay.py), whose operator plants devices in storage, swaps account keys in what it
serves, and replays captured envelopes under new ids; a thief also drives the API with a stolen token.
Each attack is refused, or shown to the person before anything is sent, and nothing reaches the attacker's
device: its mailbox and every envelope the relay ever stored for it are empty, and no frame the browser
sends names it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, Request, ViewportSize, expect

from crypto.keys import IdentityKeyPair, SignedPreKeyPair
from crypto.signed import certificate_message
from tests.browser._ui import (
    bubble,
    go_to,
    join,
    link_new_device,
    open_chat,
    open_user,
    practice,
    send,
    shot,
    therapist_with_terms,
    unlock,
    violations,
)
from tests.fixtures.hostile_relay import HostileControl, HostileServer
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser
PHONE: ViewportSize = {"width": 390, "height": 844}
JSON = dict[str, Any]


SERVER_CLASS = HostileServer  # this module's server is the hostile relay (tests/browser/conftest.py)


@pytest.fixture
def relay(server: ConfidantServer) -> HostileControl:
    return HostileControl(server.url)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class Attacker:
    """The operator's own device: its keys, certified by an account key nobody pinned (or by itself)."""

    def __init__(self) -> None:
        self.identity = IdentityKeyPair.generate()
        self.account_key = IdentityKeyPair.generate()
        self.device_id = os.urandom(16).hex()

    def device(self, account_id: str) -> JSON:
        created = int(time.time() * 1000)
        message = certificate_message(bytes.fromhex(account_id), bytes.fromhex(self.device_id),
                                      self.identity.public.to_bytes(), created)
        spk = SignedPreKeyPair.generate(self.identity, 1).public_part()
        return {
            "device_id": self.device_id,
            "identity_key": b64(self.identity.public.to_bytes()),
            "certificate": {"created_at": created, "signature": b64(self.account_key.sign(message))},
            "signed_prekey": {"id": 1, "public": b64(spk.public.to_bytes()), "signature": b64(spk.signature)},
            "one_time_prekeys": [],
        }

    def swap(self, account_id: str) -> JSON:
        """The body of the relay's swap_account_key: this attacker's key and device for `account_id`."""
        return {"account_id": account_id, "account_key": b64(self.account_key.public.to_bytes()),
                "devices": [self.device(account_id)]}

    async def received_nothing(self, relay: HostileControl) -> None:
        """Asserted on the attacker's side: its mailbox, and every envelope the relay ever stored for it."""
        assert (await relay.command("mailbox", {"device_id": self.device_id}))["envelopes"] == []
        assert (await relay.command("captured", {"to_device": self.device_id}))["envelopes"] == []


def record_traffic(page: Page) -> list[str]:
    """Every websocket frame and request (method, URL, body) the page sends, from its next socket on."""
    seen: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: seen.append(str(payload))))
    page.on("request", lambda req: seen.append(f"{req.method} {req.url} {req.post_data or ''}"))
    return seen


def record_tokens(page: Page) -> list[str]:
    tokens: list[str] = []

    def on_request(req: Request) -> None:
        auth = req.headers.get("authorization", "")
        if auth.startswith("Bearer ") and auth[7:] not in tokens:
            tokens.append(auth[7:])

    page.on("request", on_request)
    return tokens


async def account_id_of(page: Page, server: ConfidantServer) -> str:
    """The page's account id, as the server knows it (read with the page's own token)."""
    tokens = record_tokens(page)
    await page.reload()
    await unlock(page)
    await expect(page.get_by_role("banner").get_by_role("button", name="Lock")).to_be_visible()
    assert tokens
    me = await _get(server, "/api/v1/me", {"Authorization": f"Bearer {tokens[-1]}"})
    return str(me["account_id"])


async def _get(server: ConfidantServer, path: str, headers: dict[str, str]) -> Any:
    async with aiohttp.ClientSession() as http, http.get(server.url + path, headers=headers) as r:
        assert r.status == 200, await r.text()
        return await r.json()


def sent_anything(traffic: list[str]) -> bool:
    return any('"send"' in x or (x.startswith("POST") and "/api/v1/messages" in x) for x in traffic)


async def test_swapped_account_key_blocks_and_a_planted_device_gets_nothing(
    browser: Browser, server: ConfidantServer, relay: HostileControl, artifacts: Path
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    client_id = await account_id_of(c, server)
    await open_chat(t, p.client_name)
    await send(c, "Your therapist", "before the swap")
    await expect(bubble(t, "before the swap")).to_be_visible()

    # The relay swaps the client's account key for its own, with a device it certified under that key.
    attacker = Attacker()
    await relay.command("swap_account_key", attacker.swap(client_id))
    traffic = record_traffic(t)
    await t.reload()
    await unlock(t)
    await open_chat(t, p.client_name)
    warning = t.get_by_role("alert").filter(has_text="security key has changed")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("Nothing is sent to them and no call is placed")

    # The therapist writes anyway: the message waits, and nothing at all leaves for anyone.
    await send(t, p.client_name, "held while the key is unknown")
    held = t.locator(".msg.out[data-state=held]")
    await expect(held).to_have_count(1)
    await expect(held).to_contain_text("Waiting: their security key changed")
    await t.set_viewport_size(PHONE)
    await shot(t, artifacts, "key-change-blocked")
    assert await violations(t) == []
    await t.set_viewport_size({"width": 1180, "height": 760})
    assert not any(attacker.device_id in x for x in traffic), "something was addressed to the relay's device"
    assert not sent_anything(traffic)
    await expect(bubble(c, "held while the key is unknown")).to_have_count(0)

    # The relay serves the real key again: the held message goes, to the real devices only.
    await relay.command("swap_account_key", {"account_id": client_id, "clear": True})
    await t.reload()
    await unlock(t)
    await open_chat(t, p.client_name)
    await expect(bubble(c, "held while the key is unknown")).to_be_visible()
    await expect(t.get_by_role("alert").filter(has_text="security key has changed")).to_have_count(0)
    assert not any(attacker.device_id in x for x in traffic)
    await attacker.received_nothing(relay)

    # Next the operator writes a device into the client's account: listed everywhere, demanded by every send.
    planted = Attacker()
    await relay.command("plant_device", {"account_id": client_id, "device": planted.device(client_id)})
    traffic = record_traffic(t)
    await t.reload()
    await unlock(t)
    await open_chat(t, p.client_name)
    await expect(t.get_by_role("status").filter(has_text="did not approve")).to_be_visible()
    await send(t, p.client_name, "never for the planted device")
    mine = t.locator(".msg.out").filter(has_text="never for the planted device")
    await expect(mine).to_have_attribute("data-state", "failed", timeout=30_000)
    await expect(mine).to_contain_text("did not approve")
    assert not any(planted.device_id in x for x in traffic if "/bundle" in x or '"send"' in x)
    await planted.received_nothing(relay)
    await expect(bubble(c, "never for the planted device")).to_have_count(0)
    for user in (p.admin, p.therapist, p.client):
        assert user.errors == []


async def test_invitation_fingerprint_verifies_and_catches_a_swapped_inviter_key(
    browser: Browser, server: ConfidantServer, relay: HostileControl, artifacts: Path
) -> None:
    admin, therapist, link = await therapist_with_terms(browser, server, "Sam Rivera")
    assert re.search(r"#/join/[^/]+/[A-Za-z0-9_-]{22}$", link), link

    # Honest relay: the invited client is verified from its first message, without comparing numbers.
    client = await open_user(browser, server)
    await join(client.page, link)
    await client.page.get_by_label("I have read these terms in full.").check()
    await client.page.get_by_role("button", name="I accept these terms").click()
    await expect(client.page.get_by_text("End-to-end encrypted · verified")).to_be_visible()

    # Hostile relay: it gives the next invitee another key for the therapist. The fragment does not match.
    second_link = await _invite(therapist.page, "Alex Moreno")
    therapist_id = await account_id_of(therapist.page, server)
    attacker = Attacker()
    await relay.command("swap_account_key", attacker.swap(therapist_id))
    victim = await open_user(browser, server)
    traffic = record_traffic(victim.page)
    await join(victim.page, second_link)
    await victim.page.get_by_label("I have read these terms in full.").check()
    await victim.page.get_by_role("button", name="I accept these terms").click()
    alert = victim.page.get_by_role("alert").filter(has_text="does not match your invitation link")
    await expect(alert).to_be_visible()
    await send(victim.page, "Your therapist", "this must not leave")
    await expect(victim.page.locator(".msg.out[data-state=held]")).to_have_count(1)
    await victim.page.set_viewport_size(PHONE)
    await shot(victim.page, artifacts, "invitation-key-mismatch")
    assert await violations(victim.page) == []
    assert not sent_anything(traffic)
    await attacker.received_nothing(relay)
    for user in (admin, therapist, client, victim):
        assert user.errors == []


async def _invite(page: Page, name: str) -> str:
    """A second invitation from the invitation screen (the first one's link is still shown there)."""
    box = page.get_by_test_id("invite-link")
    before = await box.text_content() if await box.count() else None
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Invite").click()
    await page.get_by_label(re.compile("name$")).fill(name)
    await page.get_by_role("button", name="Create invitation link").click()
    if before:
        await expect(box).not_to_have_text(before)
    link = await box.text_content()
    assert link
    return link


async def test_stolen_token_cannot_enrol_and_replays_are_refused(
    browser: Browser, server: ConfidantServer, relay: HostileControl
) -> None:
    """A thief holds the client's live token and drives the linking API itself: it can make an offer, but
    without the account key no certificate it makes verifies, so no device is added and nothing reaches it.
    Then the relay replays a session start and an old envelope: each shows once, the conversation goes on."""
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    tokens = record_tokens(c)
    client_id = await account_id_of(c, server)
    stolen = {"Authorization": f"Bearer {tokens[-1]}"}
    me = await _get(server, "/api/v1/me", stolen)

    attacker = Attacker()
    device = attacker.device(client_id)  # well-formed, its prekey signed by the device: only the cert fails
    link_key = IdentityKeyPair.generate().x25519().public.to_bytes()
    offer = IdentityKeyPair.generate().x25519().public.to_bytes()
    async with aiohttp.ClientSession(base_url=server.url) as http:
        request = {"link_key": b64(link_key), "device_id": attacker.device_id,
                   "identity_key": device["identity_key"]}
        async with http.post("/api/v1/device-links", json=request) as r:
            assert r.status == 201, await r.text()
            link_id = (await r.json())["link_id"]
        async with http.post(f"/api/v1/device-links/{link_id}/offer", json={"link_key": b64(offer)},
                             headers=stolen) as r:
            assert r.status == 200, await r.text()
        async with http.post(f"/api/v1/device-links/{link_id}/approve", json={"bundle": b64(os.urandom(200))},
                             headers=stolen) as r:
            assert r.status == 204, await r.text()
        async with http.post("/api/v1/devices", json={"link_id": link_id, "device": device}) as r:
            assert r.status == 401, await r.text()
            error = (await r.json())["error"]
            assert error["code"] == "signature_invalid"
            assert error.get("details", {}).get("field", "device.certificate.signature") == (
                "device.certificate.signature"
            )
        # The thief's device does not exist: it cannot even ask to log in.
        async with http.post("/api/v1/auth/challenge", json={"device_id": attacker.device_id}) as r:
            assert r.status == 404

    listed = (await _get(server, "/api/v1/me", stolen))["devices"]
    assert [d["device_id"] for d in listed] == [me["device_id"]]
    await open_chat(t, p.client_name)
    await send(t, p.client_name, "after the attempt")
    await expect(bubble(c, "after the attempt")).to_be_visible()
    await expect(t.locator(".msg.notice").filter(has_text="added a device")).to_have_count(0)
    await attacker.received_nothing(relay)

    # The relay delivers old ciphertext again: the therapist's session start (a prekey message, the
    # "after the attempt" above) and a later envelope of the same session, under fresh relay ids.
    captured = (await relay.command("captured"))["envelopes"]
    first = next(e for e in captured if e["type"] == "prekey")
    for i in range(3):
        await send(c, "Your therapist", f"reply {i}")
        await expect(bubble(t, f"reply {i}")).to_be_visible()
    await send(t, p.client_name, "second words")
    await expect(bubble(c, "second words")).to_be_visible()
    same_way = [e for e in (await relay.command("captured"))["envelopes"]
                if (e["from_device"], e["to_device"]) == (first["from_device"], first["to_device"])]
    for env in (first, same_way[-1]):
        await relay.command("replay", {"envelope": env})
    await send(t, p.client_name, "still talking")
    await expect(bubble(c, "still talking")).to_be_visible()
    for text in ("after the attempt", "second words"):
        await expect(bubble(c, text)).to_have_count(1)

    # The conversation is intact both ways: the replayed session start replaced nothing.
    await send(c, "Your therapist", "and still")
    await expect(bubble(t, "and still")).to_be_visible()
    await send(t, p.client_name, "and back")
    await expect(bubble(c, "and back")).to_be_visible()
    await expect(c.locator(".msg.notice").filter(has_text="could not be decrypted")).to_have_count(0)
    for user in (p.admin, p.therapist, p.client):
        assert user.errors == []


async def test_linking_is_approved_from_an_existing_device(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    admin = await open_user(browser, server)
    await admin.page.set_viewport_size(PHONE)
    await join(admin.page, f"/#/join/{server.admin_code()}")
    await expect(admin.page.get_by_role("heading", name="Relay health")).to_be_visible()
    audit: dict[str, object] = {}
    phone = await link_new_device(browser, server, admin.page, artifacts, audit)
    await expect(phone.page.get_by_role("heading", name="Relay health")).to_be_visible()
    await go_to(admin.page, "Devices")
    devices = admin.page.get_by_role("list", name="Your devices")
    await expect(devices.get_by_role("listitem")).to_have_count(2)
    failing = {screen: v for screen, v in audit.items() if v}
    assert not failing, json.dumps(failing, indent=1)
    for user in (admin, phone):
        assert user.errors == []
