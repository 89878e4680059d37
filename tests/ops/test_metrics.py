"""/metrics moves with what users do: sends accepted, delivered (by sync after a wake-up or a reconnect),
acknowledged, refused by code; connections, backlog, HTTP routes and storage timings. And no label ever
names anyone."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from client.device import Device
from server.metrics import AUDIT_EVENTS, LABEL_VALUES
from storage.protocols import STORES
from tests.fixtures.redis_proc import RedisProcess, redis_proc  # noqa: F401  (fixture)
from tests.ops.conftest import PASSPHRASE, Relay, Sample, practice, relay_server

API = "/api/v1"


async def _rejected_send(relay: Relay) -> str:
    """The client addresses the admin, whom it is not linked to: refused, nothing stored."""
    body = {"id": secrets.token_hex(16), "to_account": relay.admin.account_id,
            "envelopes": [{"v": 1, "to_device": relay.admin.device_id, "type": "message",
                           "ciphertext": "AAAA"}]}
    reply = await relay.call("POST", f"{API}/messages", relay.client, body)
    assert reply.status in (400, 403), reply.text
    code: str = reply.body["error"]["code"]
    return code


async def test_metrics_follow_an_end_to_end_run(relay: Relay) -> None:
    assert await relay.value("confidant_connected_devices") == 3  # admin, therapist, client

    for i in range(3):
        await relay.client.send(relay.therapist.account_id, f"live message {i}")
    assert [m.body for m in await relay.therapist.receive(3)] == [f"live message {i}" for i in range(3)]

    # The client goes offline; the therapist's answer waits in its mailbox.
    keystore = relay.client.keystore_path
    relay.devices.remove(relay.client)
    await relay.client.close()
    await relay.eventually("client disconnected", lambda: _equals(relay, "confidant_connected_devices", 2))
    await relay.therapist.send(relay.client.account_id, "waiting for you")
    await relay.eventually("backlog of one", lambda: _equals(relay, "confidant_mailbox_backlog_envelopes", 1))
    assert await relay.value("confidant_mailbox_oldest_age_seconds") > 0

    client = await Device.open(keystore, PASSPHRASE, receipts=False)  # as in practice() (conftest)
    relay.devices.append(client)
    relay.client = client
    assert [m.body for m in await client.receive(1)] == ["waiting for you"]
    await relay.eventually("drained", lambda: _equals(relay, "confidant_mailbox_backlog_envelopes", 0))
    assert await relay.value("confidant_connected_devices") == 3

    code = await _rejected_send(relay)

    value = relay.value
    assert await value("confidant_envelopes_accepted_total") == 4
    # Pushes are wake-ups without envelopes: every hand-out is a sync, the "live" series stays at zero.
    assert await value("confidant_envelopes_delivered_total", path="live") == 0
    assert await value("confidant_envelopes_delivered_total", path="sync") == 4
    await relay.eventually("acked", lambda: _equals(relay, "confidant_envelopes_acknowledged_total", 4))
    assert await value("confidant_sends_rejected_total", code=code) == 1
    assert await value("confidant_sends_rejected_total") == 1
    assert await value("confidant_envelopes_expired_total") == 0
    # Send -> deliver latency: the three sent while online within a second of their wake-up, the drained
    # one after the time offline.
    assert await value("confidant_delivery_latency_seconds_count", path="sync") == 4
    assert await value("confidant_delivery_latency_seconds_bucket", path="sync", le="1.0") >= 3
    assert await value("confidant_delivery_latency_seconds_bucket", path="sync", le="60.0") == 4
    # Transport and storage series by route template / operation.
    assert await value("confidant_http_requests_total", route=f"{API}/auth/token", method="POST",
                       status="200") >= 4
    assert await value("confidant_http_requests_total", route=f"{API}/messages", method="POST") == 1
    assert await value("confidant_socket_events_total", event="send", outcome="ok") == 4
    assert await value("confidant_storage_operation_duration_seconds_count",
                       store="mailbox", op="add_send") == 4
    assert await value("confidant_dependency_up", dependency="storage") == 1
    assert await value("confidant_audit_entries_total", event="consent_accepted") == 1


async def _equals(relay: Relay, name: str, expected: float) -> bool:
    return await relay.value(name) == expected


def _route_templates(openapi: dict[str, object]) -> set[str]:
    paths = openapi["paths"]
    assert isinstance(paths, dict)
    return set(paths)


async def test_every_label_value_comes_from_a_fixed_set(relay: Relay) -> None:
    await relay.client.send(relay.therapist.account_id, "hello")
    await relay.therapist.receive(1)
    await _rejected_send(relay)
    await relay.call("GET", f"{API}/admin/health", relay.admin)
    await relay.call("GET", f"{API}/admin/health", relay.client)  # refused: 403
    await relay.call("GET", f"{API}/devices/{relay.client.device_id}/bundle", relay.therapist)
    await relay.call("GET", f"{API}/no/such/{relay.client.account_id}")  # unmatched: never the raw path
    await relay.eventually("a sample", lambda: _equals(relay, "confidant_dependency_up", 2))

    openapi = (await relay.call("GET", "/openapi.json")).body
    routes = {re.sub(r"\{(\w+)\}", r"{\1:[0-9a-f]{32}}", p) for p in _route_templates(openapi)}
    routes |= _route_templates(openapi) | {"/metrics", "/openapi.json", "/static", "unmatched"}
    stores = set(STORES) | {"storage"}
    personal = {d.account_id for d in relay.devices} | {d.device_id for d in relay.devices}
    samples: list[Sample] = await relay.metrics()
    assert any(s.labels.get("route") == "unmatched" for s in samples)
    for sample in samples:
        for name, value in sample.labels.items():
            assert not any(p in value for p in personal), (sample, "names a person")
            assert not re.search(r"[0-9a-f]{16,}", value), (sample, "looks like an id")
            if name == "le":
                continue
            assert name in LABEL_VALUES, (sample, f"unknown label {name}")
            allowed = LABEL_VALUES[name]
            if allowed is not None:
                assert value in allowed, sample
            elif name == "route":
                assert value in routes, sample
            elif name == "status":
                assert re.fullmatch(r"[1-5][0-9][0-9]", value), sample
            elif name == "store":
                assert value in stores, sample
            elif name == "event":
                assert value in AUDIT_EVENTS or re.fullmatch(r"[a-z][a-z0-9_.]{0,47}", value), sample
            elif name == "op":
                assert re.fullmatch(r"[a-z][a-z_]{0,47}", value), sample
            else:
                assert name == "version" and re.fullmatch(r"[0-9][0-9a-z.+-]*", value), sample


async def test_delivery_after_a_cross_node_wake_up_is_counted_once(
    tmp_path: Path, redis_proc: RedisProcess  # noqa: F811
) -> None:
    server = relay_server(tmp_path, extra_args=["--redis-url", redis_proc.url])
    await server.start_async()
    relay = None
    try:
        relay = await practice(server, tmp_path / "devices")
        await relay.client.send(relay.therapist.account_id, "through redis")
        assert [m.body for m in await relay.therapist.receive(1)] == ["through redis"]
        assert await relay.value("confidant_envelopes_delivered_total", path="sync") == 1
        assert await relay.value("confidant_delivery_latency_seconds_count", path="sync") == 1
        assert await relay.value("confidant_broker_operation_duration_seconds_count", op="set_presence") >= 3
    finally:
        if relay is not None:
            for device in relay.devices:
                await device.close()
        server.stop()


def test_every_wire_error_code_has_its_own_metric_label() -> None:
    """An error code missing from the allow-list would be counted as "other" and hide from the dashboard."""
    from server.errors import ErrorCode
    from server.metrics import ERROR_CODES

    assert {code.value for code in ErrorCode} <= ERROR_CODES
