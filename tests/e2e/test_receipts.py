"""Delivery receipts between SDK devices (docs/SDK.md "Events", PROTOCOL.md section 20): every receiving
device of the recipient acknowledges what a page delivered in one receipt per sender; the sender's devices
see a ``delivered`` event, never a message; no receipt goes to our own devices; a malformed receipt is dropped
like any malformed payload."""

from __future__ import annotations

import asyncio
import collections
import json
import time
from typing import Any

import pytest

from client._wire import b64e, new_id, now_ms
from client.device import Device
from tests.e2e.conftest import Practice, next_event


def _spy_receipts(monkeypatch: pytest.MonkeyPatch, device: Device) -> list[str]:
    """The accounts ``device`` queues receipts to (the outbox's untracked entries), in order."""
    to: list[str] = []
    add = device.outbox.add

    def spy(to_account: str, plaintext_b64: str, message_id: str | None = None, *, track: bool = True) -> str:
        if not track:
            to.append(to_account)
        return add(to_account, plaintext_b64, message_id, track=track)

    monkeypatch.setattr(device.outbox, "add", spy)
    return to


def _drain(device: Device) -> list[Any]:
    events = []
    while not device.events.empty():
        events.append(device.events.get_nowait())
    return events


def _undecryptable(events: list[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, dict) and e.get("event") == "undecryptable"]


async def test_receipts_reach_the_sender_as_delivered_events_and_never_as_messages(
    practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = practice
    therapist, client = p.therapist, p.client
    await client.accept_terms(therapist.account_id)
    second = await p.link_device(therapist, "therapist-second")
    receipts = {d.device_id: _spy_receipts(monkeypatch, d) for d in (therapist, second, client)}

    sent = [client.enqueue(therapist.account_id, f"note {i}: slept better") for i in range(30)]
    await client.flush(timeout=30)
    for device in (therapist, second):
        assert [m.id for m in await device.receive(30, timeout=30)] == sent

    # Each of the therapist's two devices acknowledges every message, in one receipt per page.
    covered: collections.Counter[str] = collections.Counter()
    events: list[Any] = []
    deadline = time.monotonic() + 30
    while any(covered[i] < 2 for i in sent):
        event = await asyncio.wait_for(client.events.get(), max(0.0, deadline - time.monotonic()))
        events.append(event)
        if isinstance(event, dict) and event["event"] == "delivered":
            assert event["account_id"] == therapist.account_id
            assert set(event["ids"]) <= set(sent), "a receipt lists only the messages it acknowledges"
            covered.update(event["ids"])
    for device in (therapist, second):
        assert set(receipts[device.device_id]) == {client.account_id}

    # The therapist answers: the client acknowledges it; the therapist's second device, which gets its own
    # account's copy, sends no receipt (the browser's rule), and the receipts never reach an app as messages.
    reply = await therapist.send(client.account_id, "see you on Tuesday", timeout=30)
    assert [m.id for m in await second.receive(1, timeout=30)] == [reply]
    assert [m.id for m in await client.receive(1, timeout=30)] == [reply]
    delivered = await next_event(therapist, "delivered")
    assert delivered == {"event": "delivered", "account_id": client.account_id, "ids": [reply]}
    assert receipts[second.device_id].count(therapist.account_id) == 0
    assert receipts[client.device_id] == [therapist.account_id]
    await client.flush(timeout=30)
    assert len(client.inbox) == len(therapist.inbox) == len(second.inbox) == 0
    assert _undecryptable(events + _drain(client) + _drain(therapist) + _drain(second)) == []


async def test_a_malformed_receipt_is_dropped_like_any_malformed_payload(practice: Practice) -> None:
    p = practice
    therapist, client = p.therapist, p.client
    await client.accept_terms(therapist.account_id)
    bad = {"v": 2, "id": new_id(), "type": "receipt", "ids": ["not a message id"], "sent_at": now_ms()}
    client.outbox.add(therapist.account_id, b64e(json.dumps({**bad, "to": therapist.account_id}).encode()))
    after = await client.send(therapist.account_id, "still here", timeout=30)
    assert [m.id for m in await therapist.receive(1, timeout=30)] == [after]
    events = _drain(therapist)
    assert len(_undecryptable(events)) == 1
    assert not [e for e in events if isinstance(e, dict) and e.get("event") == "delivered"]
