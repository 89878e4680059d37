"""OpenAPI 3.1 document generated from the route table and the msgspec schemas (served at /openapi.json)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from server.context import AppContext, Route
from server.errors import STATUS, ErrorCode
from server.wire.responses import ErrorOut

__all__ = ["build_openapi", "openapi_path", "path_parameters"]

_PARAM = re.compile(r"\{(\w+)(?::[^{}]*(?:\{\d+\}[^{}]*)*)?\}")


def openapi_path(path: str) -> str:
    """aiohttp ``/x/{id:[0-9a-f]{32}}`` -> OpenAPI ``/x/{id}``."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def path_parameters(path: str) -> list[tuple[str, dict[str, Any]]]:
    """Each ``{name}`` / ``{name:regex}`` of an aiohttp path, with the schema its regex implies.

    Named from the whole placeholder, never from a ``{32}`` quantifier inside a regex.
    """
    out: list[tuple[str, dict[str, Any]]] = []
    for match in _PARAM.finditer(path):
        name, _, regex = match.group(0)[1:-1].partition(":")
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if regex:
            schema["pattern"] = f"^{regex}$"
        if regex == "[0-9a-f]{32}":
            schema = {"type": "string", "pattern": "^[0-9a-f]{32}$", "minLength": 32, "maxLength": 32,
                      "description": "16 random bytes as 32 lowercase hex"}
        out.append((name, schema))
    return out


def _ref(kind: type[Any]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{kind.__name__}"}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(ErrorOut)}}}


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.method.lower()}_{route.handler.__name__}",
    }
    params = path_parameters(route.path)
    if params:
        op["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": schema} for name, schema in params
        ]
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(route.body)}}}
    ok: dict[str, Any] = {"description": "Success"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": _ref(route.response)}}
    responses: dict[str, Any] = {str(route.status): ok}
    # Every error status with the codes it carries (docs/API.md). 401 is listed on open routes too: the
    # login endpoints answer challenge_invalid / signature_invalid with it. 405 (method_not_allowed, with
    # Allow) answers methods a path does not declare, so it belongs to no operation.
    for code in sorted({STATUS[c] for c in ErrorCode} - {route.status, 405}):
        names = ", ".join(c.value for c in ErrorCode if STATUS[c] == code)
        responses[str(code)] = _error_response(names)
    op["responses"] = responses
    op["security"] = [{"bearer": []}] if route.auth else []
    return op


def build_openapi(ctx: AppContext) -> dict[str, Any]:
    documented = [r for r in ctx.routes if r.documented]
    kinds: set[type[Any]] = {ErrorOut}
    for route in documented:
        kinds.update(k for k in (route.body, route.response) if k is not None)
    for event in ctx.socket_events.values():
        kinds.update(k for k in (event.payload, event.result) if k is not None)
    _, components = msgspec.json.schema_components(
        sorted(kinds, key=lambda k: k.__name__), ref_template="#/components/schemas/{name}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in documented:
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Confidant",
            "version": "1",
            "description": "End-to-end encrypted messaging relay. Realtime events (socket.io) are "
            "described in x-socketio-events; the flows are explained in docs/API.md.",
        },
        "servers": [{"url": ctx.settings.base_url}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "x-socketio-events": {
            name: {
                "summary": e.summary,
                "payload": None if e.payload is None else _ref(e.payload),
                "result": None if e.result is None else _ref(e.result),
            }
            for name, e in sorted(ctx.socket_events.items())
        },
    }
