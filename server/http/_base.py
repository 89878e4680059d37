"""Helpers every HTTP view uses: read a typed body, authenticate, reply with a Struct."""

from __future__ import annotations

import base64
from typing import TypeVar

import msgspec
from aiohttp import web

from server import limits
from server.errors import PayloadTooLarge
from server.http.forwarded import TRUSTED_PROXIES_KEY
from server.services.auth import AuthService
from server.services.values import Principal
from server.wire.decode import from_json

__all__ = ["API", "b64", "bearer_principal", "client_ip", "read_body", "reply"]

API = "/api/v1"
S = TypeVar("S", bound=msgspec.Struct)
_encoder = msgspec.json.Encoder()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def read_body(request: web.Request, kind: type[S]) -> S:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = limits.MAX_HTTP_BODY_BYTES
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.", {"limit": limit}) from None
    return from_json(raw, kind)


def reply(body: msgspec.Struct | None = None, status: int = 200) -> web.Response:
    if body is None:
        return web.Response(status=204)
    return web.Response(body=_encoder.encode(body), status=status, content_type="application/json")


def client_ip(request: web.Request) -> str:
    """The peer address, or the client's behind a trusted reverse proxy (``server.http.forwarded``)."""
    proxies = request.app.get(TRUSTED_PROXIES_KEY)
    return proxies.of(request) if proxies is not None else request.remote or "unknown"


async def bearer_principal(request: web.Request, auth: AuthService) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return await auth.authenticate(token.strip() if scheme.lower() == "bearer" else None)
