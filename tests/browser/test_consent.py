"""Consent before contact: a new version of the therapist's terms takes the client back to the terms, in full,
and the conversation continues only once they accept it; meanwhile the therapist sees who has not accepted
and a refused message can be retried."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser._ui import assert_server_never_saw, bubble, open_chat, practice, send
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

NEW_TERMS = "Version two: sessions are recorded only with your written agreement.\n\nAll else is unchanged."


async def test_new_terms_version_requires_acceptance(browser: Browser, server: ConfidantServer) -> None:
    p = await practice(browser, server)
    t, c = p.therapist.page, p.client.page
    await t.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
    await send(c, "Your therapist", "hello before the new terms")
    # Unread count in the client list, cleared once the conversation is open.
    clients = t.get_by_role("list", name="Clients")
    unread = clients.get_by_role("link", name=re.compile(rf"^{p.client_name}.*1 unread$"))
    await expect(unread).to_be_visible()
    await open_chat(t, p.client_name)
    await expect(bubble(t, "hello before the new terms")).to_be_visible()
    await expect(clients.get_by_role("link", name=re.compile("unread"))).to_have_count(0)

    await t.get_by_role("link", name="Terms").click()
    await t.get_by_label("Terms", exact=True).fill(NEW_TERMS)
    await t.get_by_role("button", name="Publish terms").click()
    await expect(t.get_by_text("Published version 2")).to_be_visible()

    # The client is taken back to the terms, which show the new text in full.
    await expect(c.get_by_role("heading", name="Confidentiality terms")).to_be_visible()
    await expect(c.get_by_role("document", name="Terms text")).to_have_text(NEW_TERMS)
    await expect(c.get_by_text(re.compile("Version 2, published"))).to_be_visible()

    await open_chat(t, p.client_name)
    await expect(t.get_by_role("status").filter(has_text="has not accepted your current")).to_be_visible()
    # The server refuses contact until then: the therapist's message is "Not sent", with Retry.
    await send(t, p.client_name, "a note before you accept")
    failed = t.locator(".msg.out.failed").filter(has_text="a note before you accept")
    await expect(failed).to_contain_text("Not sent")

    await c.get_by_label("I have read these terms in full.").check()
    await c.get_by_role("button", name="I accept these terms").click()
    await failed.get_by_role("button", name="Retry").click()
    await expect(bubble(c, "a note before you accept")).to_be_visible()
    delivered = t.locator(".msg.out[data-state=delivered]").filter(has_text="a note before you accept")
    await expect(delivered).to_be_visible()
    await send(c, "Your therapist", "I accept version two")
    await expect(bubble(t, "I accept version two")).to_be_visible()
    await expect(t.get_by_role("status").filter(has_text="has not accepted your current")).to_have_count(0)
    typed = ["hello before the new terms", "a note before you accept", "I accept version two"]
    assert_server_never_saw(server, typed)  # (the terms themselves are published: the server keeps them)
