"""Trust that does not depend on the server, in the browser (docs/PROTOCOL.md §16-§21).

The relay is hostile here: Playwright sits between each browser and the real server (`page.route`) and
rewrites what the server says about devices and keys, exactly as a dishonest operator could, or replays
ciphertext with a stolen token. Each attack is refused, or shown to the person before anything is sent,
and nothing is ever encrypted to the attacker's device (asserted on every frame the browser sends).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, Route, ViewportSize, expect

from crypto.keys import IdentityKeyPair, SignedPreKeyPair
from crypto.signed import certificate_message
from tests.browser._ui import (
    bubble,
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
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser
PHONE: ViewportSize = {"width": 390, "height": 844}
Contacts = dict[str, Any]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def attacker_device(account_id: str, account_key: IdentityKeyPair | None = None,
                    identity: IdentityKeyPair | None = None) -> tuple[Contacts, str]:
    """A device the relay invents for `account_id`: its own identity key, and a certificate signed by
    `account_key` (the attacker's own account key) or, without one, by the device key itself."""
    device_id = os.urandom(16).hex()
    identity = identity or IdentityKeyPair.generate()
    signer = account_key or identity
    created = int(time.time() * 1000)
    sig = signer.sign(certificate_message(bytes.fromhex(account_id), bytes.fromhex(device_id),
                                          identity.public.to_bytes(), created))
    device = {"device_id": device_id, "identity_key": b64(identity.public.to_bytes()),
              "certificate": {"created_at": created, "signature": b64(sig)}}
    return device, device_id


async def tamper_contacts(page: Page, edit: Callable[[Contacts], None]) -> None:
    """The relay rewrites every GET /contacts this page makes."""

    async def handler(route: Route) -> None:
        response = await route.fetch()
        body = await response.json()
        edit(body)
        await route.fulfill(response=response, json=body)

    await page.route(re.compile(r"/api/v1/contacts$"), handler)


def record_traffic(page: Page) -> list[str]:
    """Every websocket frame and request URL + body the page sends (what could reach an attacker's device),
    from the next socket the page opens on."""
    seen: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: seen.append(str(payload))))
    page.on("request", lambda req: seen.append(f"{req.method} {req.url} {req.post_data or ''}"))
    return seen


def record_tokens(page: Page) -> list[str]:
    tokens: list[str] = []

    def on_request(req: Any) -> None:
        auth = req.headers.get("authorization", "")
        if auth.startswith("Bearer ") and auth[7:] not in tokens:
            tokens.append(auth[7:])

    page.on("request", on_request)
    return tokens


async def test_swapped_account_key_blocks_sending_until_resolved(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    await open_chat(t, p.client_name)
    await send(c, "Your therapist", "before the swap")
    await expect(bubble(t, "before the swap")).to_be_visible()

    # The relay swaps the client's account key for its own, with a device it certified under that key.
    evil_account = IdentityKeyPair.generate()
    planted: list[str] = []

    def swap(body: Contacts) -> None:
        for contact in body["contacts"]:
            if contact["role"] == "client":
                dev, dev_id = attacker_device(contact["account_id"], evil_account)
                planted.append(dev_id)
                contact["account_key"] = b64(evil_account.public.to_bytes())
                contact["devices"] = [dev]

    await tamper_contacts(t, swap)
    traffic = record_traffic(t)
    await t.reload()
    await unlock(t)
    await open_chat(t, p.client_name)
    warning = t.get_by_role("alert").filter(has_text="security key has changed")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("Nothing is sent to them and no call is placed")
    assert planted

    # The therapist writes anyway: the message waits, and nothing at all leaves for the planted device.
    await send(t, p.client_name, "held while the key is unknown")
    held = t.locator(".msg.out[data-state=held]")
    await expect(held).to_have_count(1)
    await expect(held).to_contain_text("Waiting: their security key changed")
    await t.set_viewport_size(PHONE)
    await shot(t, artifacts, "key-change-blocked")
    assert await violations(t) == []
    await t.set_viewport_size({"width": 1180, "height": 760})
    sent = "\n".join(traffic)
    assert not any(dev_id in sent for dev_id in planted), "something was addressed to the relay's device"
    assert '"send"' not in sent
    assert not any(x.startswith("POST") and "/api/v1/messages" in x for x in traffic)
    await expect(bubble(c, "held while the key is unknown")).to_have_count(0)

    # The relay gives up and lists the real key again: the held message goes, to the real devices only.
    await t.unroute(re.compile(r"/api/v1/contacts$"))
    await t.reload()
    await unlock(t)
    await open_chat(t, p.client_name)
    await expect(bubble(c, "held while the key is unknown")).to_be_visible()
    await expect(t.get_by_role("alert").filter(has_text="security key has changed")).to_have_count(0)
    assert not any(dev_id in "\n".join(traffic) for dev_id in planted)
    for user in (p.admin, p.therapist, p.client):
        assert user.errors == []


async def test_uncertified_device_is_never_encrypted_to(browser: Browser, server: ConfidantServer) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    planted: list[str] = []

    def plant(body: Contacts) -> None:
        for contact in body["contacts"]:
            if contact["role"] == "client":
                dev, dev_id = attacker_device(contact["account_id"])  # certified by itself, not the account
                planted.append(dev_id)
                contact["devices"].append(dev)

    await tamper_contacts(t, plant)
    traffic = record_traffic(t)
    await t.reload()
    await unlock(t)
    await open_chat(t, p.client_name)
    await expect(t.get_by_role("status").filter(has_text="did not approve")).to_be_visible()
    await send(t, p.client_name, "only for the real devices")
    await expect(bubble(c, "only for the real devices")).to_be_visible()
    mine = t.locator(".msg.out").filter(has_text="only for the real devices")
    await expect(mine).to_have_attribute("data-state", re.compile("sent|delivered"))
    assert planted and not any(dev_id in "\n".join(traffic) for dev_id in planted)
    for user in (p.admin, p.therapist, p.client):
        assert user.errors == []


async def test_invitation_fingerprint_verifies_and_catches_a_swapped_inviter_key(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
    admin, therapist, link = await therapist_with_terms(browser, server, "Sam Rivera")
    assert re.search(r"#/join/[^/]+/[A-Za-z0-9_-]{22}$", link), link

    # Honest relay: the invited client is verified from its first message, without comparing numbers.
    client = await open_user(browser, server)
    await join(client.page, link)
    await client.page.get_by_label("I have read these terms in full.").check()
    await client.page.get_by_role("button", name="I accept these terms").click()
    await expect(client.page.get_by_text("End-to-end encrypted · verified")).to_be_visible()

    # Hostile relay: it gives a second invitee another key for the therapist. The fragment does not match.
    second_link = await _invite(therapist.page, "Alex Moreno")
    evil_account = IdentityKeyPair.generate()

    def swap(body: Contacts) -> None:
        for contact in body["contacts"]:
            if contact["role"] == "therapist":
                dev, _ = attacker_device(contact["account_id"], evil_account)
                contact["account_key"] = b64(evil_account.public.to_bytes())
                contact["devices"] = [dev]

    victim = await open_user(browser, server)
    await tamper_contacts(victim.page, swap)
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
    assert not any('"send"' in frame for frame in traffic)
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


async def test_replayed_prekey_message_and_envelope_are_refused(
    browser: Browser, server: ConfidantServer
) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    tokens = record_tokens(c)
    frames = record_traffic(c)  # from the next socket on: reload, and the client unlocks again
    await c.reload()
    await unlock(c)
    await open_chat(t, p.client_name)
    await send(c, "Your therapist", "first words")  # starts the session: a prekey message
    await expect(bubble(t, "first words")).to_be_visible()
    first = _send_frames(frames)[0]
    for i in range(3):
        await send(t, p.client_name, f"reply {i}")
        await expect(bubble(c, f"reply {i}")).to_be_visible()
    await send(c, "Your therapist", "second words")
    await expect(bubble(t, "second words")).to_be_visible()
    later = _send_frames(frames)[-1]

    # The relay (or anyone holding the client's token) delivers both again, under fresh ids.
    async with aiohttp.ClientSession() as http:
        for body in (first, later):
            async with http.post(f"{server.url}/api/v1/messages", json={**body, "id": os.urandom(16).hex()},
                                 headers={"Authorization": f"Bearer {tokens[-1]}"}) as r:
                assert r.status in (200, 201), await r.text()
    # The therapist's browser has processed both (its mailbox is drained), and shows neither twice.
    await send(c, "Your therapist", "still talking")
    await expect(bubble(t, "still talking")).to_be_visible()
    await expect(bubble(t, "first words")).to_have_count(1)
    await expect(bubble(t, "second words")).to_have_count(1)

    # The conversation is intact: nothing was replaced by the replayed session start.
    await send(c, "Your therapist", "and still")
    await expect(bubble(t, "and still")).to_be_visible()
    await expect(t.locator(".msg.notice").filter(has_text="could not be decrypted")).to_have_count(0)


def _send_frames(frames: list[str]) -> list[dict[str, Any]]:
    out = []
    for f in frames:
        m = re.match(r"^42\d*(\[.*\])$", f)
        if m:
            event, *args = json.loads(m.group(1))
            if event == "send":
                out.append(args[0])
    assert out, "no send frame seen"
    return out


async def test_a_stolen_token_cannot_enrol_a_device(browser: Browser, server: ConfidantServer) -> None:
    """The thief holds the client's live token and drives the linking API itself: it can make an offer, but
    without the account key no certificate it makes verifies, so no device is added and nothing reaches it."""
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    tokens = record_tokens(c)
    await c.reload()
    await unlock(c)
    await expect(c.get_by_label("Message to Your therapist")).to_be_visible()
    stolen = {"Authorization": f"Bearer {tokens[-1]}"}
    me = await _get(server, "/api/v1/me", stolen)

    link_key = IdentityKeyPair.generate().x25519().public.to_bytes()
    thief_account = IdentityKeyPair.generate()
    thief_device = IdentityKeyPair.generate()
    dev, dev_id = attacker_device(me["account_id"], thief_account, thief_device)
    async with aiohttp.ClientSession(base_url=server.url) as http:
        async with http.post("/api/v1/device-links", json={"link_key": b64(link_key), "device_id": dev_id,
                                                           "identity_key": dev["identity_key"]}) as r:
            assert r.status == 201, await r.text()
            link_id = (await r.json())["link_id"]
        offer = IdentityKeyPair.generate().x25519().public.to_bytes()
        async with http.post(f"/api/v1/device-links/{link_id}/offer", json={"link_key": b64(offer)},
                             headers=stolen) as r:
            assert r.status == 200, await r.text()
        async with http.post(f"/api/v1/device-links/{link_id}/approve", json={"bundle": b64(os.urandom(200))},
                             headers=stolen) as r:
            assert r.status == 204, await r.text()
        device = {**dev, "signed_prekey": _signed_prekey(thief_device), "one_time_prekeys": []}
        async with http.post("/api/v1/devices", json={"link_id": link_id, "device": device}) as r:
            assert r.status == 401, await r.text()
            error = (await r.json())["error"]
            assert error["code"] == "signature_invalid"
            field = error.get("details", {}).get("field", "device.certificate.signature")
            assert field == "device.certificate.signature"
        # The thief's device does not exist: it cannot even ask to log in, so it has no mailbox to read.
        async with http.post("/api/v1/auth/challenge", json={"device_id": dev_id}) as r:
            assert r.status == 404

    listed = (await _get(server, "/api/v1/me", stolen))["devices"]
    assert [d["device_id"] for d in listed] == [me["device_id"]]
    await open_chat(t, p.client_name)
    await send(t, p.client_name, "after the attempt")
    await expect(bubble(c, "after the attempt")).to_be_visible()
    await expect(t.locator(".msg.notice").filter(has_text="added a device")).to_have_count(0)
    for user in (p.admin, p.therapist, p.client):
        assert user.errors == []


async def _get(server: ConfidantServer, path: str, headers: dict[str, str]) -> Any:
    async with aiohttp.ClientSession() as http, http.get(server.url + path, headers=headers) as r:
        assert r.status == 200, await r.text()
        return await r.json()


def _signed_prekey(identity: IdentityKeyPair) -> dict[str, Any]:
    """Well-formed and signed by the device: only the certificate can make the registration fail."""
    spk = SignedPreKeyPair.generate(identity, 1)
    pub = spk.public_part()
    return {"id": 1, "public": b64(pub.public.to_bytes()), "signature": b64(pub.signature)}


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
    await admin.page.get_by_role("link", name="Devices").click()
    devices = admin.page.get_by_role("list", name="Your devices")
    await expect(devices.get_by_role("listitem")).to_have_count(2)
    failing = {screen: v for screen, v in audit.items() if v}
    assert not failing, json.dumps(failing, indent=1)
    for user in (admin, phone):
        assert user.errors == []
