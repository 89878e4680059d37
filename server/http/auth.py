"""HTTP views: challenge-response login and token revocation."""

from __future__ import annotations

from aiohttp import web

from server import limits
from server.context import AppContext, Route
from server.http._base import API, b64, bearer_principal, client_ip, read_body, reply
from server.wire import requests as rq
from server.wire import responses as rs
from server.wire.decode import b64 as decode_b64

__all__ = ["register"]


def register(ctx: AppContext) -> None:
    auth = ctx.services.auth

    async def challenge(request: web.Request) -> web.Response:
        body = await read_body(request, rq.ChallengeIn)
        nonce, expires_at = await auth.challenge(body.device_id, client_ip(request))
        return reply(rs.ChallengeOut(b64(nonce), expires_at))

    async def token(request: web.Request) -> web.Response:
        body = await read_body(request, rq.TokenIn)
        nonce = decode_b64(body.nonce, "nonce", limits.NONCE_BYTES)
        signature = decode_b64(body.signature, "signature", limits.SIGNATURE_BYTES)
        value, expires_at = await auth.issue_token(body.device_id, nonce, signature, client_ip(request))
        return reply(rs.TokenOut(value, expires_at))

    async def revoke(request: web.Request) -> web.Response:
        await auth.revoke(await bearer_principal(request, auth))
        return reply()

    tag = "auth"
    ctx.add_route(
        Route(
            "POST",
            f"{API}/auth/challenge",
            challenge,
            "A single-use login nonce for a device",
            tag,
            rq.ChallengeIn,
            rs.ChallengeOut,
            auth=False,
        )
    )
    ctx.add_route(
        Route(
            "POST",
            f"{API}/auth/token",
            token,
            "Exchange a signed nonce for a bearer token",
            tag,
            rq.TokenIn,
            rs.TokenOut,
            auth=False,
        )
    )
    ctx.add_route(
        Route("DELETE", f"{API}/auth/token", revoke, "Revoke the token used for this call", tag, status=204)
    )
