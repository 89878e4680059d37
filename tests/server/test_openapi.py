"""/openapi.json documents every API route, with schemas for every body."""

from __future__ import annotations

import re

from server.openapi import openapi_path
from tests.server.conftest import Server


async def test_every_route_is_documented(server: Server) -> None:
    r = await server.http.call("GET", "/openapi.json")
    assert r.status == 200
    doc = r.body
    assert doc["openapi"].startswith("3.1")
    schemas = doc["components"]["schemas"]
    routes = [route for route in server.ctx.routes if route.documented]
    assert len(routes) >= 20
    for route in routes:
        op = doc["paths"][openapi_path(route.path)][route.method.lower()]
        assert op["summary"]
        if route.body is not None:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in schemas
        if route.response is not None:
            ref = op["responses"][str(route.status)]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in schemas
        assert "401" in op["responses"]  # signature_invalid / challenge_invalid on the login routes too
        assert "signature_invalid" in op["responses"]["401"]["description"]
        names = [p["name"] for p in op.get("parameters", [])]
        assert names == re.findall(r"\{(\w+)\}", openapi_path(route.path)), route.path  # no phantom "32"
        for param in op.get("parameters", []):
            assert param["name"].isidentifier() and param["schema"]["pattern"].startswith("^")
    # Unknown fields are rejected, and the schema says so.
    assert schemas["SendIn"]["additionalProperties"] is False
    assert set(doc["x-socketio-events"]) >= {"send", "sync", "ack"}


def test_paths_drop_the_id_regex() -> None:
    assert (
        openapi_path("/api/v1/devices/{device_id:[0-9a-f]{32}}/bundle")
        == "/api/v1/devices/{device_id}/bundle"
    )


async def test_byte_fields_state_their_encoding_and_size(server: Server) -> None:
    schemas = (await server.http.call("GET", "/openapi.json")).body["components"]["schemas"]
    key = schemas["DeviceIn"]["properties"]["identity_key"]
    assert (key["minLength"], key["maxLength"]) == (44, 44) and key["pattern"].endswith("=$")
    signature = schemas["TokenIn"]["properties"]["signature"]
    assert (signature["minLength"], signature["maxLength"]) == (88, 88)
    assert "base64" in schemas["EnvelopeIn"]["properties"]["ciphertext"]["description"]
    assert set(schemas["EnvelopeIn"]["properties"]["type"]["enum"]) == {"prekey", "message"}
