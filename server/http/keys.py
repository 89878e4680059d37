"""HTTP views: signed-prekey rotation, one-time prekeys, bundle fetch."""

from __future__ import annotations

from aiohttp import web

from server import limits
from server.context import AppContext, Route
from server.http._base import API, b64, bearer_principal, read_body, reply
from server.wire import requests as rq
from server.wire import responses as rs
from server.wire.decode import b64 as decode_b64
from server.wire.decode import one_time_prekeys
from storage.records import Bundle, SignedPrekey

__all__ = ["bundle_out", "register"]


def bundle_out(b: Bundle) -> rs.BundleOut:
    spk = b.signed_prekey
    otk = b.one_time_prekey
    return rs.BundleOut(
        device_id=b.device_id,
        identity_key=b64(b.identity_key),
        certificate=rs.CertificateOut(int.from_bytes(b.certificate[:8], "big"), b64(b.certificate[8:])),
        signed_prekey=rs.SignedPrekeyOut(spk.id, b64(spk.public), b64(spk.signature)),
        one_time_prekey=None if otk is None else rs.OneTimePrekeyOut(otk.id, b64(otk.public)),
    )


def register(ctx: AppContext) -> None:
    s = ctx.services

    async def rotate_signed_prekey(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        body = await read_body(request, rq.SignedPrekeyIn)
        prekey = SignedPrekey(
            id=body.id,
            public=decode_b64(body.public, "public", limits.PUBLIC_KEY_BYTES),
            signature=decode_b64(body.signature, "signature", limits.SIGNATURE_BYTES),
        )
        await s.prekeys.rotate_signed_prekey(caller, prekey)
        return reply()

    async def upload(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        body = await read_body(request, rq.OneTimePrekeysIn)
        count = await s.prekeys.add_one_time_prekeys(caller, one_time_prekeys(body.prekeys))
        return reply(rs.CountOut(count))

    async def count(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        return reply(rs.OneTimePrekeysCountOut(await s.prekeys.count(caller)))

    async def prekey_ids(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        return reply(rs.PrekeyIdsOut(await s.prekeys.one_time_prekey_ids(caller)))

    async def account_bundles(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        bundles = await s.prekeys.bundles_for_account(caller, request.match_info["account_id"])
        return reply(rs.BundlesOut([bundle_out(b) for b in bundles]))

    async def device_bundle(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        return reply(bundle_out(await s.prekeys.bundle_for_device(caller, request.match_info["device_id"])))

    tag = "keys"
    hex_id = "{%s:[0-9a-f]{32}}"
    for route in (
        Route(
            "PUT",
            f"{API}/keys/signed-prekey",
            rotate_signed_prekey,
            "Rotate your signed prekey",
            tag,
            rq.SignedPrekeyIn,
            status=204,
        ),
        Route(
            "POST",
            f"{API}/keys/one-time-prekeys",
            upload,
            "Upload one-time prekeys",
            tag,
            rq.OneTimePrekeysIn,
            rs.CountOut,
        ),
        Route(
            "GET",
            f"{API}/keys/count",
            count,
            "How many one-time prekeys you have left",
            tag,
            response=rs.OneTimePrekeysCountOut,
        ),
        Route(
            "GET",
            f"{API}/keys/one-time-prekeys",
            prekey_ids,
            "Ids of your one-time prekeys still on the server (the others were claimed)",
            tag,
            response=rs.PrekeyIdsOut,
        ),
        Route(
            "GET",
            f"{API}/accounts/{hex_id % 'account_id'}/bundles",
            account_bundles,
            "Claim one prekey bundle per device of a linked account (or your own other devices)",
            tag,
            response=rs.BundlesOut,
        ),
        Route(
            "GET",
            f"{API}/devices/{hex_id % 'device_id'}/bundle",
            device_bundle,
            "Claim the prekey bundle of one device",
            tag,
            response=rs.BundleOut,
        ),
    ):
        ctx.add_route(route)
