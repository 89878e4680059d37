"""Feature: the records custodian over HTTP (docs/API.md, "Records custodian").

    GET    /api/v1/custodian                          -> {enabled, public_key?, set_at?} (therapists, admins)
    PUT    /api/v1/admin/custodian                    {public_key} -> the same (administrators)
    POST   /api/v1/admin/custodian/off                -> {enabled: false} (administrators)
    PUT    /api/v1/custodian/copies/<record id>       {version, custodian_key, ciphertext} (therapists)
    POST   /api/v1/custodian/copies/<record id>/delete                                    (therapists)

The server stores the copies and cannot open them (docs/PROTOCOL.md section 24).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web
from msgspec import Meta

from server import limits
from server.context import AppContext, Route
from server.http._base import API, b64, bearer_principal, read_body, reply
from server.wire import decode
from server.wire.requests import _B64, Key32
from storage.custodian import CustodianKey

__all__ = ["CopyIn", "CopyOut", "CustodianIn", "CustodianOut", "register"]

_HEX_ID = r"{record_id:[0-9a-f]{32}}"
_COPY_B64 = 4 * -(-limits.MAX_CUSTODIAN_COPY_BYTES // 3)


class CustodianIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    public_key: Key32  # X25519 public key of the practice's custodian (standard base64)


class CopyIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    version: Annotated[int, Meta(ge=1, le=2**63 - 1)]  # the vault record version this copies
    custodian_key: Key32  # the key it is sealed to: must be the configured one
    ciphertext: Annotated[
        str,
        Meta(
            min_length=4,
            max_length=_COPY_B64,
            pattern=f"^{_B64}$",
            description="the sealed copy (docs/PROTOCOL.md section 24) in standard base64",
        ),
    ]


class CustodianOut(msgspec.Struct, frozen=True, omit_defaults=True):
    enabled: bool
    public_key: str | None = None
    set_at: int | None = None


class CopyOut(msgspec.Struct, frozen=True):
    stored: bool  # False: a copy of a newer version was already stored


def _out(key: CustodianKey | None) -> CustodianOut:
    return CustodianOut(False) if key is None else CustodianOut(True, b64(key.public_key), key.set_at)


def register(ctx: AppContext) -> None:
    service = ctx.services.custodian
    auth = ctx.services.auth

    async def get_key(request: web.Request) -> web.Response:
        return reply(_out(await service.get_key(await bearer_principal(request, auth))))

    async def set_key(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        body = await read_body(request, CustodianIn)
        public = decode.b64(body.public_key, "public_key", size=32)
        return reply(_out(await service.set_key(caller, public)))

    async def turn_off(request: web.Request) -> web.Response:
        await service.turn_off(await bearer_principal(request, auth))
        return reply(CustodianOut(False))

    async def put_copy(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        body = await read_body(request, CopyIn)
        key = decode.b64(body.custodian_key, "custodian_key", size=32)
        sealed = decode.b64(body.ciphertext, "ciphertext", max_size=limits.MAX_CUSTODIAN_COPY_BYTES)
        stored = await service.put_copy(caller, request.match_info["record_id"], body.version, key, sealed)
        return reply(CopyOut(stored))

    async def delete_copy(request: web.Request) -> web.Response:
        await service.delete_copy(await bearer_principal(request, auth), request.match_info["record_id"])
        return reply()

    tag = "custodian"
    ctx.add_route(Route("GET", f"{API}/custodian", get_key, "The practice's records custodian key",
                        tag, response=CustodianOut))
    ctx.add_route(Route("PUT", f"{API}/admin/custodian", set_key, "Configure the records custodian key",
                        "admin", body=CustodianIn, response=CustodianOut))
    ctx.add_route(Route("POST", f"{API}/admin/custodian/off", turn_off, "Turn the records custodian off",
                        "admin", response=CustodianOut))
    copy = f"{API}/custodian/copies/{_HEX_ID}"
    ctx.add_route(Route("PUT", copy, put_copy, "Store a note's custodian copy", tag, body=CopyIn,
                        response=CopyOut))
    ctx.add_route(Route("POST", f"{copy}/delete", delete_copy, "Delete a note's custodian copy", tag,
                        status=204))
