"""The practice settings: every signed-in device reads them, only an administrator changes them, and bad
input changes nothing."""

from __future__ import annotations

from typing import Any

from client.device import Device
from tests.ops.conftest import Relay

API = "/api/v1"
RULE = "require_verified_safety_numbers"


async def _rule(relay: Relay, device: Device) -> Any:
    got = await relay.call("GET", f"{API}/practice", device)
    assert got.status == 200, got.text
    return got.body[RULE]


async def test_an_admin_sets_the_rule_and_every_role_reads_it(relay: Relay) -> None:
    for device in (relay.admin, relay.therapist, relay.client):
        assert await _rule(relay, device) is False
    assert (await relay.call("GET", f"{API}/practice")).status == 401

    for device in (relay.therapist, relay.client):
        refused = await relay.call("PUT", f"{API}/admin/practice", device, {RULE: True})
        assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden")
    for bad in ({}, {RULE: "yes"}, {RULE: True, "extra": 1}):
        refused = await relay.call("PUT", f"{API}/admin/practice", relay.admin, bad)
        assert refused.status == 400 and refused.body["error"]["code"], refused.text
    assert await _rule(relay, relay.client) is False

    on = await relay.call("PUT", f"{API}/admin/practice", relay.admin, {RULE: True})
    assert on.status == 200 and on.body[RULE] is True and on.body["updated_at"] > 0
    for device in (relay.therapist, relay.client):
        assert await _rule(relay, device) is True
    mine = await relay.call("GET", f"{API}/audit/me", relay.admin)
    assert [e["event"] for e in mine.body["entries"]].count("admin_practice_changed") == 1  # refusals: none
