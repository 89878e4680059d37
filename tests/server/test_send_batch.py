"""Batched sends (``send_batch``) and the acknowledgement folded into ``sync`` (docs/API.md "Realtime")."""

from __future__ import annotations

from tests.server._kit import hex_id
from tests.server.conftest import Server


async def test_batch_is_stored_in_order_and_answered_per_send(server: Server) -> None:
    therapist, client = await server.pair()
    sock = await client.connect()
    bodies = [client.send_body(therapist.account_id, [therapist.device_id]) for _ in range(5)]
    reply = await sock.call("send_batch", {"sends": bodies})
    results = reply["result"]["results"]
    assert [r["ok"] for r in results] == [True] * 5
    assert [r["result"]["id"] for r in results] == [b["id"] for b in bodies]
    again = await sock.call("send_batch", {"sends": bodies[:2]})  # a retried batch stores nothing
    assert [r["result"]["duplicate"] for r in again["result"]["results"]] == [True, True]
    receiver = await therapist.connect()
    page = (await receiver.call("sync", {"after": 0}))["result"]["envelopes"]
    assert [e["id"] for e in page] == [b["id"] for b in bodies]  # stream order is the batch's order
    assert await server.count("mailbox") == 5


async def test_batch_stops_at_the_first_refusal(server: Server) -> None:
    therapist, client = await server.pair()
    sock = await client.connect()
    good = client.send_body(therapist.account_id, [therapist.device_id])
    mismatched = client.send_body(therapist.account_id, [therapist.device_id, hex_id()])
    later = client.send_body(therapist.account_id, [therapist.device_id])
    results = (await sock.call("send_batch", {"sends": [good, mismatched, later]}))["result"]["results"]
    assert len(results) == 2  # the send after the refusal is not looked at: it cannot overtake it
    assert results[0]["ok"] is True
    assert results[1]["error"]["code"] == "device_set_mismatch"
    malformed = {**later, "envelopes": [{**later["envelopes"][0], "v": 2}]}
    results = (await sock.call("send_batch", {"sends": [later, malformed, good]}))["result"]["results"]
    assert [r["ok"] for r in results] == [True, False]
    assert results[1]["error"]["code"] == "unsupported_version"
    assert await server.count("mailbox") == 2  # good and later, each once


async def test_batch_bounds_and_shape(server: Server) -> None:
    therapist, client = await server.pair()
    sock = await client.connect()
    body = client.send_body(therapist.account_id, [therapist.device_id])
    for bad in ({"sends": []}, {"sends": [body] * 33}, {"sends": body}, {"sends": [body], "x": 1}):
        reply = await sock.call("send_batch", bad)
        assert reply["ok"] is False and reply["error"]["code"] in {"invalid_field", "bad_request"}
    assert await server.count("mailbox") == 0


async def test_sync_acknowledges_up_to_ack_up_to(server: Server) -> None:
    therapist, client = await server.pair()
    sender = await client.connect()
    bodies = [client.send_body(therapist.account_id, [therapist.device_id]) for _ in range(3)]
    await sender.call("send_batch", {"sends": bodies})
    receiver = await therapist.connect()
    page = (await receiver.call("sync", {"after": 0}))["result"]["envelopes"]
    second = page[1]["pos"]
    reply = await receiver.call("sync", {"after": second, "ack_up_to": second})
    assert [e["id"] for e in reply["result"]["envelopes"]] == [bodies[2]["id"]]
    # The folded acknowledgement is not awaited by the page; the explicit one after it is ordered behind it.
    assert (await receiver.call("ack", {"up_to": second}))["result"] == {"deleted": 0}
    assert await server.count("mailbox") == 1
    assert (await receiver.call("sync", {"after": 0}))["result"]["envelopes"][0]["id"] == bodies[2]["id"]
