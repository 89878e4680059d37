"""Consent before contact: unchanged terms are refused; a new version is published after the therapist sees
what changed; the client sees a notice in their conversation, keeps what they were typing, and sends it only
once they accept; meanwhile the therapist sees who has not accepted and a refused message can be retried."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.browser._ui import (
    TERMS,
    assert_server_never_saw,
    bubble,
    open_chat,
    practice,
    send,
    shot,
    violations,
)
from tests.fixtures.server_proc import ConfidantServer

pytestmark = pytest.mark.browser

ADDED = "Sessions are recorded only with your written agreement."


async def test_new_terms_version_requires_acceptance(
    browser: Browser, server: ConfidantServer, artifacts: Path
) -> None:
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
    # Unchanged text is refused: nothing is published, no client is asked again.
    await expect(t.get_by_text(re.compile("^Current version 1"))).to_be_visible()
    await t.get_by_role("button", name="Publish terms").click()
    await expect(t.get_by_role("alert")).to_contain_text("the same as version 1")
    await expect(t.get_by_role("button", name=re.compile("^Publish version"))).to_have_count(0)

    # The client is typing when the new version arrives.
    draft = "half a thought about next week"
    await c.get_by_label("Message to Your therapist").fill(draft)
    await t.get_by_label("Terms", exact=True).fill(TERMS + "\n\n" + ADDED)
    await t.get_by_role("button", name="Publish terms").click()
    # What changed, computed on the therapist's device, and a confirmation before anyone is asked again.
    changes = t.get_by_role("list", name="What changed")
    await expect(changes.get_by_role("listitem")).to_have_text(["+Added: " + ADDED])
    await shot(t, artifacts, "terms-publish-confirm")
    await t.get_by_role("button", name="Publish version 2").click()
    await expect(t.get_by_text("Published version 2")).to_be_visible()

    # The client stays in the conversation with their draft, and sees a notice of what changed.
    await expect(c.get_by_text("Your therapist updated their terms — what changed")).to_be_visible()
    box = c.get_by_label("Message to Your therapist")
    await expect(box).to_have_value(draft)
    # Sending waits for acceptance: the draft is kept and the review opens, with the added line.
    await box.press("Enter")
    await expect(c.get_by_role("heading", name="Updated terms, version 2")).to_be_visible()
    client_changes = c.get_by_role("list", name="What changed")
    await expect(client_changes.get_by_role("listitem")).to_have_text(["+Added: " + ADDED])
    await expect(box).to_have_value(draft)
    assert await violations(c) == []
    await shot(c, artifacts, "client-terms-update")

    await open_chat(t, p.client_name)
    await expect(t.get_by_role("status").filter(has_text="has not accepted your current")).to_be_visible()
    # The server refuses contact until then: the therapist's message is "Not sent", with Retry.
    await send(t, p.client_name, "a note before you accept")
    failed = t.locator(".msg.out.failed").filter(has_text="a note before you accept")
    await expect(failed).to_contain_text("Not sent")

    await c.get_by_label("I have read the updated terms.").check()
    await c.get_by_role("button", name="I accept the updated terms").click()
    await expect(c.get_by_text("updated their terms")).to_have_count(0)
    await c.get_by_role("button", name="Send").click()
    await expect(bubble(t, draft)).to_be_visible()
    await failed.get_by_role("button", name="Retry").click()
    await expect(bubble(c, "a note before you accept")).to_be_visible()
    delivered = t.locator(".msg.out[data-state=delivered]").filter(has_text="a note before you accept")
    await expect(delivered).to_be_visible()
    await send(c, "Your therapist", "I accept version two")
    await expect(bubble(t, "I accept version two")).to_be_visible()
    await expect(t.get_by_role("status").filter(has_text="has not accepted your current")).to_have_count(0)
    typed = ["hello before the new terms", draft, "a note before you accept", "I accept version two"]
    assert_server_never_saw(server, typed)  # (the terms themselves are published: the server keeps them)
