"""Every endpoint and socket event refuses malformed input with a stable code, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server._kit import API, Keys, b64, hex_id
from tests.server.conftest import Server

# (method, path template, a valid-looking body). {me}/{dev}/{other} are filled per test.
_KEYS = Keys(prekeys=1)
_DEVICE = _KEYS.payload()
BODIES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", f"{API}/invitations", {"role": "client"}),
    (
        "POST",
        f"{API}/accounts",
        {"invitation_code": "abc", "account": _KEYS.account_payload(), "device": _DEVICE},
    ),
    ("POST", f"{API}/devices", {"link_id": "{dev}", "device": _DEVICE}),
    (
        "POST",
        f"{API}/device-links",
        {"link_key": b64(bytes(32)), "device_id": "{dev}", "identity_key": b64(bytes(32))},
    ),
    ("POST", f"{API}/device-links/{'0' * 32}/offer", {"link_key": b64(bytes(32))}),
    ("POST", f"{API}/device-links/{'0' * 32}/approve", {"bundle": b64(bytes(64))}),
    ("POST", f"{API}/auth/challenge", {"device_id": "{dev}"}),
    (
        "POST",
        f"{API}/auth/token",
        {"device_id": "{dev}", "nonce": b64(bytes(32)), "signature": b64(bytes(64))},
    ),
    ("PUT", f"{API}/keys/signed-prekey", {"id": 2, "public": b64(bytes(32)), "signature": b64(bytes(64))}),
    ("POST", f"{API}/keys/one-time-prekeys", {"prekeys": [{"id": 500, "public": b64(bytes(32))}]}),
    ("PUT", f"{API}/consent/terms", {"text": "terms"}),
    (
        "POST",
        f"{API}/consent",
        {
            "therapist_id": "{other}",
            "version": 1,
            "terms_hash": b64(bytes(32)),
            "signed_at": 1,
            "signature": b64(bytes(64)),
        },
    ),
    (
        "POST",
        f"{API}/messages",
        {
            "id": "{other}",
            "to_account": "{other}",
            "envelopes": [{"v": 1, "to_device": "{dev}", "type": "message", "ciphertext": b64(bytes(100))}],
        },
    ),
    ("POST", f"{API}/messages/ack", {"up_to": 1}),
]

# A field replaced by a value of the wrong type, for every body above.
WRONG_TYPES = [None, True, 1.5, "x", [], {}, 2**70, -1]


def _fill(value: Any, me: str, dev: str, other: str) -> Any:
    if isinstance(value, str):
        return value.replace("{me}", me).replace("{dev}", dev).replace("{other}", other)
    if isinstance(value, dict):
        return {k: _fill(v, me, dev, other) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, me, dev, other) for v in value]
    return value


@pytest.fixture
async def actor(server: Server):  # type: ignore[no-untyped-def]
    therapist, client = await server.pair()
    return therapist, client


@pytest.mark.parametrize("method, path, body", BODIES, ids=[f"{m} {p}" for m, p, _ in BODIES])
async def test_malformed_bodies(
    server: Server, actor: Any, method: str, path: str, body: dict[str, Any]
) -> None:
    therapist, client = actor
    base = _fill(body, therapist.account_id, therapist.device_id, client.account_id)
    before = await server.counts()
    cases: list[tuple[bytes | None, Any, set[str]]] = [
        (b"not json", None, {"bad_request"}),
        (b"[1, 2]", None, {"bad_request"}),
        (b"", None, {"bad_request", "invalid_field"}),
        (None, {**base, "unexpected": 1}, {"bad_request"}),
    ]
    for key in base:
        for wrong in WRONG_TYPES:
            if type(wrong) is type(base[key]) and not isinstance(wrong, dict | list):
                continue
            cases.append((None, {**base, key: wrong}, {"invalid_field", "bad_request", "payload_too_large"}))
    for raw, json_body, codes in cases:
        r = await therapist.call(method, path, json_body, raw=raw)
        assert r.status in (400, 413), (raw, json_body, r.body)
        assert r.code in codes, (raw, json_body, r.body)
        assert r.body["error"]["message"]
        if r.code == "invalid_field":
            assert isinstance(r.body["error"]["details"]["field"], str)
    assert await server.counts() == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("identity_key", b64(bytes(31))),
        ("identity_key", "AAAA===="),
        ("identity_key", b64(bytes(32))[:-1] + "B"),  # non-canonical padding bits
        ("signed_prekey.public", b64(bytes(33))),
        ("signed_prekey.signature", b64(bytes(63))),
        ("signed_prekey.id", 2**32),
        ("one_time_prekeys", [{"id": 1, "public": b64(bytes(32))}] * 2),
        ("one_time_prekeys", [{"id": i, "public": b64(bytes(32))} for i in range(101)]),
    ],
)
async def test_bad_device_payloads(server: Server, field: str, value: Any) -> None:
    admin = await server.admin()
    code = await server.invite(admin, "therapist")
    payload = Keys().payload()
    if "." in field:
        outer, inner = field.split(".")
        payload[outer][inner] = value
    else:
        payload[field] = value
    before = await server.counts()
    body = {"invitation_code": code, "account": Keys().account_payload(), "device": payload}
    r = await server.http.call("POST", f"{API}/accounts", body)
    assert (r.status, r.code) == (400, "invalid_field"), r.body
    assert r.body["error"]["details"]["field"].startswith("device.")
    assert await server.counts() == before
    await server.redeem(code)  # the invitation survived


async def test_oversized_http_body(server: Server) -> None:
    _therapist, client = await server.pair()
    before = await server.counts()
    r = await client.call("POST", f"{API}/messages", raw=b'{"id": "' + b"a" * (3 * 1024 * 1024) + b'"}')
    assert (r.status, r.code) == (413, "payload_too_large")
    assert await server.counts() == before


async def test_unknown_routes_and_methods(server: Server) -> None:
    therapist, _ = await server.pair()
    r = await therapist.call("GET", f"{API}/nothing-here")
    assert (r.status, r.code) == (404, "not_found")
    r = await therapist.call("GET", f"{API}/devices/not-a-hex-id/bundle")
    assert (r.status, r.code) == (404, "not_found")
    r = await therapist.call("PATCH", f"{API}/me")
    assert (r.status, r.code) == (405, "method_not_allowed")


@pytest.mark.parametrize(
    "event, payload",
    [
        ("send", None),
        ("send", "text"),
        ("send", [1]),
        ("send", {"id": 1}),
        ("send", {"id": "{other}", "to_account": "{other}", "envelopes": [], "x": 1}),
        ("sync", {"after": "1"}),
        ("sync", {"after": -1}),
        ("sync", {"limit": 0}),
        ("sync", {"limit": 10_000}),
        ("sync", {"cursor": 1}),
        ("ack", {}),
        ("ack", {"up_to": "all"}),
        ("ack", {"up_to": 1.5}),
        ("ack", [1]),
    ],
)
async def test_bad_socket_payloads(server: Server, actor: Any, event: str, payload: Any) -> None:
    therapist, client = actor
    sock = await client.connect()
    before = await server.counts()
    reply = await sock.call(
        event, _fill(payload, therapist.account_id, therapist.device_id, therapist.account_id)
    )
    assert reply["ok"] is False
    assert reply["error"]["code"] in ("bad_request", "invalid_field")
    assert await server.counts() == before
    assert sock.client.connected  # bad input never costs the connection


async def test_unknown_socket_event_is_ignored_and_connection_survives(server: Server, actor: Any) -> None:
    _therapist, client = actor
    sock = await client.connect()
    await sock.client.emit("no_such_event", {"x": 1})
    reply = await sock.call("sync", {})
    assert reply["ok"] is True
    assert hex_id()
