"""Structured logs: JSON per line with request ids, and never a secret or any content."""

from __future__ import annotations

import io
import json
import logging

from server.logging import JsonFormatter
from tests.server._kit import API
from tests.server.conftest import Server


async def test_logs_are_json_with_request_ids_and_no_secrets(server: Server) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        admin = await server.admin()
        code = await server.invite(admin, "therapist")
        therapist = await server.redeem(code)
        client = await server.client(therapist)
        await server.publish_terms(therapist)
        await server.consent(client, therapist)
        body = client.send_body(therapist.account_id, [therapist.device_id])
        sock = await client.connect()
        await sock.call("send", body)
        r = await client.call("GET", f"{API}/me", headers={"X-Request-Id": "trace-me-123"})
        assert r.headers["X-Request-Id"] == "trace-me-123"
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [line for line in lines if line["msg"] == "request"]
    assert requests and all(
        {"ts", "level", "logger", "request_id", "route", "status", "duration_ms"} <= set(r) for r in requests
    )
    assert any(r["request_id"] == "trace-me-123" and r["route"] == "/api/v1/me" for r in requests)
    text = stream.getvalue()
    secrets = [
        code,
        admin.token,
        therapist.token,
        client.token,
        body["envelopes"][0]["ciphertext"][:40],
        client.keys.payload()["identity_key"],
    ]
    for secret in secrets:
        assert secret not in text
