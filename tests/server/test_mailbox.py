"""The mailbox: idempotent sends, exact device sets, links, live push, drain, ack, expiry, durability."""

from __future__ import annotations

import asyncio

import pytest

from tests.server._kit import API, b64, envelope_bytes, hex_id
from tests.server.conftest import Server


async def test_idempotent_send_stores_once(server: Server) -> None:
    therapist, client = await server.pair()
    body = client.send_body(therapist.account_id, [therapist.device_id])
    sock = await client.connect()
    first = await sock.call("send", body)
    second = await sock.call("send", body)
    third = await client.call("POST", f"{API}/messages", body)
    assert first["result"]["duplicate"] is False
    assert second["result"] == {**first["result"], "duplicate": True}
    assert third.body == second["result"]
    assert await server.count("mailbox") == 1


async def test_retry_after_device_change_still_returns_original(server: Server) -> None:
    therapist, client = await server.pair()
    body = client.send_body(therapist.account_id, [therapist.device_id])
    first = await client.call("POST", f"{API}/messages", body)
    await server.add_device(therapist)  # the original device set is now incomplete
    again = await client.call("POST", f"{API}/messages", body)
    assert again.status == 200 and again.body == {**first.body, "duplicate": True}


async def test_device_set_mismatch_reports_missing_extra_stale(server: Server) -> None:
    therapist, client = await server.pair()
    t2 = await server.add_device(therapist)
    c2 = await server.add_device(client)
    t3 = await server.add_device(therapist)
    assert (await therapist.call("DELETE", f"{API}/devices/{t3.device_id}")).status == 204
    stranger = hex_id()
    body = client.send_body(therapist.account_id, [therapist.device_id, t3.device_id, stranger])
    before = await server.counts()
    r = await client.call("POST", f"{API}/messages", body)
    assert (r.status, r.code) == (409, "device_set_mismatch")
    assert r.body["error"]["details"] == {
        "missing": sorted([t2.device_id, c2.device_id]),
        "extra": [stranger],
        "stale": [t3.device_id],
    }
    own = client.send_body(
        therapist.account_id, [therapist.device_id, t2.device_id, c2.device_id, client.device_id]
    )
    r = await client.call("POST", f"{API}/messages", own)
    assert r.body["error"]["details"]["extra"] == [client.device_id]  # never to the sending device itself
    assert await server.counts() == before
    ok = client.send_body(therapist.account_id, [therapist.device_id, t2.device_id, c2.device_id])
    assert (await client.call("POST", f"{API}/messages", ok)).status == 200
    assert await server.count("mailbox") == 3


async def test_not_linked_accounts_cannot_message(server: Server) -> None:
    admin = await server.admin()
    therapist, client = await server.pair()
    other_therapist = await server.therapist(admin)
    other_client = await server.client(other_therapist)
    before = await server.count("mailbox")
    cases = [
        (client, other_therapist),
        (client, other_client),
        (therapist, other_client),
        (therapist, other_therapist),
        (admin, client),
        (client, admin),
    ]
    for sender, recipient in cases:
        r = await sender.call(
            "POST", f"{API}/messages", sender.send_body(recipient.account_id, [recipient.device_id])
        )
        assert (r.status, r.code) == (403, "not_linked"), (sender.role, recipient.role)
        r = await sender.call("GET", f"{API}/accounts/{recipient.account_id}/bundles")
        assert (r.status, r.code) == (403, "not_linked")
    r = await client.call("POST", f"{API}/messages", client.send_body(hex_id(), [hex_id()]))
    assert r.code == "not_linked"
    assert await server.count("mailbox") == before


async def test_sending_to_own_other_devices(server: Server) -> None:
    _, client = await server.pair()
    second = await server.add_device(client)
    sock = await second.connect()
    body = client.send_body(client.account_id, [second.device_id])
    assert (await client.call("POST", f"{API}/messages", body)).status == 200
    pushed = await sock.next("inbox")
    synced = await sock.call("sync", {"after": 0})
    assert [e["pos"] for e in synced["result"]["envelopes"]] == [pushed["pos"]]
    assert synced["result"]["envelopes"][0]["id"] == body["id"]


async def test_drain_after_reconnect_in_pages(server: Server) -> None:
    therapist, client = await server.pair()
    sent = []
    for _ in range(7):
        body = client.send_body(therapist.account_id, [therapist.device_id])
        assert (await client.call("POST", f"{API}/messages", body)).status == 200
        sent.append(body["id"])
    sock = await therapist.connect()
    got, after, more = [], 0, True
    while more:
        reply = await sock.call("sync", {"after": after, "limit": 3})
        page = reply["result"]["envelopes"]
        got += [e["id"] for e in page]
        more = reply["result"]["more"]
        after = page[-1]["pos"] if page else after
    assert got == sent
    assert (await sock.call("ack", {"up_to": after}))["result"] == {"deleted": 7}
    await sock.client.disconnect()
    sock = await therapist.connect()
    assert (await sock.call("sync", {}))["result"] == {"envelopes": [], "more": False}


async def test_http_fallback_sync_and_ack(server: Server) -> None:
    therapist, client = await server.pair()
    body = client.send_body(therapist.account_id, [therapist.device_id])
    await client.call("POST", f"{API}/messages", body)
    r = await therapist.call("GET", f"{API}/messages?after=0&limit=10")
    [item] = r.body["envelopes"]
    assert item["ciphertext"] == body["envelopes"][0]["ciphertext"] and r.body["more"] is False
    r = await therapist.call("POST", f"{API}/messages/ack", {"up_to": item["pos"]})
    assert r.body == {"deleted": 1}
    for query in ("after=-1", "after=x", "limit=0", "limit=501", "bogus=1"):
        r = await therapist.call("GET", f"{API}/messages?{query}")
        assert (r.status, r.code) == (400, "invalid_field"), query


async def test_ack_only_deletes_own_mailbox(server: Server) -> None:
    therapist, client = await server.pair()
    await client.call(
        "POST", f"{API}/messages", client.send_body(therapist.account_id, [therapist.device_id])
    )
    r = await client.call("POST", f"{API}/messages/ack", {"up_to": 2**62})
    assert r.body == {"deleted": 0}
    assert await server.count("mailbox") == 1


async def test_undelivered_envelopes_expire(server: Server) -> None:
    therapist, client = await server.pair()
    body = client.send_body(therapist.account_id, [therapist.device_id])
    await client.call("POST", f"{API}/messages", body)
    server.clock.advance(server.ctx.settings.envelope_ttl_seconds - 1)
    await therapist.login()  # a month later: the old token expired long ago
    assert len((await therapist.call("GET", f"{API}/messages")).body["envelopes"]) == 1
    server.clock.advance(1)
    assert (await therapist.call("GET", f"{API}/messages")).body["envelopes"] == []  # hidden at once
    swept = await server.ctx.services.expiry.sweep()
    assert swept["envelopes"] == 1
    assert await server.count("mailbox") == 0 and await server.count("sends") == 0


async def test_live_push_reaches_every_connection_of_the_device(server: Server) -> None:
    therapist, client = await server.pair()
    a = await therapist.connect()
    b = await therapist.connect()
    body = client.send_body(therapist.account_id, [therapist.device_id])
    await client.call("POST", f"{API}/messages", body)
    woken = [await a.next("inbox"), await b.next("inbox")]
    synced = await a.call("sync", {"after": 0})
    assert [w["pos"] for w in woken] == [synced["result"]["envelopes"][0]["pos"]] * 2


async def test_many_concurrent_sends_all_acknowledged_and_stored(server: Server) -> None:
    therapist, client = await server.pair()
    sock = await client.connect()
    bodies = [client.send_body(therapist.account_id, [therapist.device_id]) for _ in range(64)]
    replies = await asyncio.gather(*(sock.call("send", b) for b in bodies))
    assert all(r["ok"] for r in replies)
    r = await therapist.call("GET", f"{API}/messages?limit=100")
    assert [e["id"] for e in r.body["envelopes"]] == [b["id"] for b in bodies] or sorted(
        e["id"] for e in r.body["envelopes"]
    ) == sorted(b["id"] for b in bodies)


async def test_nothing_acknowledged_when_storage_is_down(server: Server) -> None:
    therapist, client = await server.pair()
    sock = await client.connect()
    await server.ctx.storage.close()
    reply = await sock.call("send", client.send_body(therapist.account_id, [therapist.device_id]))
    assert reply["ok"] is False and reply["error"]["code"] == "storage_unavailable"
    r = await client.call(
        "POST", f"{API}/messages", client.send_body(therapist.account_id, [therapist.device_id])
    )
    assert (r.status, r.code) == (503, "storage_unavailable")
    r = await server.http.call("GET", "/readyz")
    assert r.status == 503 and r.body["checks"]["storage"] == "unavailable"


@pytest.mark.parametrize(
    "mutate, status, code",
    [
        (lambda e, me, to: e.update(v=2), 400, "unsupported_version"),
        (lambda e, me, to: e.update(type="text"), 400, "invalid_field"),
        (lambda e, me, to: e.update(ciphertext="not base64!"), 400, "invalid_field"),
        (lambda e, me, to: e.update(ciphertext="QQ="), 400, "invalid_field"),
        (lambda e, me, to: e.update(ciphertext=b64(b"\x01\x02garbage")), 400, "invalid_field"),
        (lambda e, me, to: e.update(ciphertext=b64(b"\x02" + bytes(200))), 400, "unsupported_version"),
        (lambda e, me, to: e.update(ciphertext=b64(envelope_bytes(me, hex_id()))), 400, "invalid_field"),
        (lambda e, me, to: e.update(ciphertext=b64(envelope_bytes(hex_id(), to))), 400, "invalid_field"),
        (lambda e, me, to: e.update(ciphertext=b64(envelope_bytes(me, to, "prekey"))), 400, "invalid_field"),
        (
            lambda e, me, to: e.update(ciphertext=b64(envelope_bytes(me, to, size=410))),
            413,
            "payload_too_large",
        ),
        (lambda e, me, to: e.update(to_device="ABC"), 400, "invalid_field"),
        (lambda e, me, to: e.update(extra=1), 400, "bad_request"),
    ],
)
async def test_bad_envelopes_change_nothing(server: Server, mutate, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    therapist, client = await server.pair()
    body = client.send_body(therapist.account_id, [therapist.device_id])
    mutate(body["envelopes"][0], client.device_id, therapist.device_id)
    before = await server.counts()
    r = await client.call("POST", f"{API}/messages", body)
    assert (r.status, r.code) == (status, code), r.body
    sock = await client.connect()
    reply = await sock.call("send", body)
    assert reply["ok"] is False and reply["error"]["code"] == code
    assert await server.counts() == before


async def test_too_many_envelopes(server: Server) -> None:
    therapist, client = await server.pair()
    body = client.send_body(therapist.account_id, [hex_id() for _ in range(21)])
    r = await client.call("POST", f"{API}/messages", body)
    assert (r.status, r.code) == (413, "payload_too_large")
    assert r.body["error"]["details"]["limit"] == 20


async def test_send_rate_limit_per_device(server: Server) -> None:
    therapist, client = await server.pair()
    server.ctx.services.limiter.rules["send_per_device"] = (3, 60.0)
    statuses = []
    for _ in range(4):
        r = await client.call(
            "POST", f"{API}/messages", client.send_body(therapist.account_id, [therapist.device_id])
        )
        statuses.append(r.status)
    assert statuses == [200, 200, 200, 429]
    assert await server.count("mailbox") == 3


async def test_concurrent_retries_store_once(server: Server) -> None:
    therapist, client = await server.pair()
    sock = await client.connect()
    body = client.send_body(therapist.account_id, [therapist.device_id])
    replies = await asyncio.gather(
        *(sock.call("send", body) for _ in range(5)), client.call("POST", f"{API}/messages", body)
    )
    results = [r["result"] for r in replies[:5]] + [replies[5].body]
    assert sorted(r["duplicate"] for r in results) == [False] + [True] * 5
    assert len({r["accepted_at"] for r in results}) == 1
    assert await server.count("mailbox") == 1
