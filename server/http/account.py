"""HTTP views: the end of an account (docs/API.md "Erasure"). Thin: authenticate, validate, one service call.

Also resumes, at start, the erasures a crash interrupted (a background task that runs once).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from aiohttp import web

from server import limits
from server.context import AppContext, Route
from server.http._base import API, b64, bearer_principal, read_body, reply
from server.wire import responses as rs
from server.wire.decode import b64 as decode_b64
from server.wire.requests import B64

__all__ = ["EraseIn", "ExportOut", "register"]

log = logging.getLogger(__name__)

_HEX_ID = r"{%s:[0-9a-f]{32}}"


class ExportOut(msgspec.Struct, frozen=True):
    """Everything the server holds about the caller (server/services/export.py; docs/API.md "Export")."""

    format: str
    generated_at: int
    account: dict[str, Any] | None
    devices: list[dict[str, Any]]
    links: list[dict[str, Any]]
    invitations_issued: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    terms_published: dict[str, Any] | None
    appointments: list[dict[str, Any]]
    attendance: list[dict[str, Any]]
    envelopes_waiting: int
    audit_entries: list[dict[str, Any]]


class EraseIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    nonce: B64
    signature: B64  # over ERASE_CONTEXT || nonce || account_id || device_id (server/services/erasure.py)


def register(ctx: AppContext) -> None:
    s = ctx.services

    async def erase_challenge(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        nonce, expires_at = await s.erasure.challenge(caller)
        return reply(rs.ChallengeOut(b64(nonce), expires_at), 201)

    async def erase_me(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        body = await read_body(request, EraseIn)
        nonce = decode_b64(body.nonce, "nonce", limits.NONCE_BYTES)
        signature = decode_b64(body.signature, "signature", limits.SIGNATURE_BYTES)
        await s.erasure.erase_self(caller, nonce, signature)
        return reply()

    async def erase_account(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        await s.erasure.erase_by_admin(caller, request.match_info["account_id"])
        return reply()

    async def discharge(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        await s.discharge.discharge(caller, request.match_info["client_id"])
        return reply()

    async def export(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        return reply(msgspec.convert(await s.export.export(caller), ExportOut))

    tag = "accounts"
    ctx.add_route(Route("GET", f"{API}/me/export", export,
                        "Everything the server holds about you (right of access)", tag, response=ExportOut))
    ctx.add_route(Route("DELETE", f"{API}/links/{_HEX_ID % 'client_id'}", discharge,
                        "End a client's link (therapists): messaging and sessions stop", tag, status=204))
    ctx.add_route(Route("POST", f"{API}/me/erasure-challenge", erase_challenge,
                        "A single-use nonce to confirm erasing your account", tag,
                        response=rs.ChallengeOut, status=201))
    ctx.add_route(Route("POST", f"{API}/me/erase", erase_me,
                        "Erase your account and everything the server holds of it (signed confirmation)",
                        tag, EraseIn, status=204))
    ctx.add_route(Route("DELETE", f"{API}/admin/accounts/{_HEX_ID % 'account_id'}", erase_account,
                        "Erase an account and everything the server holds of it (administrators)",
                        "admin", status=204))

    async def resume_erasures() -> None:
        finished = await s.erasure.resume()
        if finished:
            log.info("interrupted erasures finished", extra={"count": finished})

    ctx.add_background("erasure-resume", resume_erasures)
