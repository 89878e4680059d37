"""The main flow end to end: accounts, login, keys, consent, send over socket.io, sync, ack."""

from __future__ import annotations

from tests.server._kit import API, hex_id
from tests.server.conftest import Server


async def test_health_and_ready(server: Server) -> None:
    r = await server.http.call("GET", "/healthz")
    assert (r.status, r.body) == (200, {"status": "ok"})
    r = await server.http.call("GET", "/readyz")
    assert r.status == 200
    assert r.body == {"status": "ok", "checks": {"storage": "ok", "broker": "ok"}}


async def test_message_flow_over_socket(server: Server) -> None:
    therapist, client = await server.pair()
    t_sock = await therapist.connect()
    c_sock = await client.connect()

    body = client.send_body(therapist.account_id, [therapist.device_id])
    ack = await c_sock.call("send", body)
    assert ack["ok"] is True, ack
    assert ack["result"]["id"] == body["id"] and ack["result"]["duplicate"] is False

    pushed = await t_sock.next("inbox")
    assert set(pushed) == {"pos"}, "a wake-up carries the position only: no ciphertext, no sender"

    synced = await t_sock.call("sync", {"after": 0})
    assert synced["ok"] and synced["result"]["more"] is False
    [item] = synced["result"]["envelopes"]
    assert item["pos"] == pushed["pos"] and item["id"] == body["id"]
    assert item["ciphertext"] == body["envelopes"][0]["ciphertext"]
    assert item["from_account"] == client.account_id and item["from_device"] == client.device_id

    acked = await t_sock.call("ack", {"up_to": item["pos"]})
    assert acked == {"ok": True, "result": {"deleted": 1}}
    synced = await t_sock.call("sync", {"after": 0})
    assert synced["result"]["envelopes"] == []

    r = await therapist.call("GET", f"{API}/me")
    assert r.body["account_id"] == therapist.account_id and r.body["role"] == "therapist"
    assert hex_id() != hex_id()
