"""Feature: attachment blobs over HTTP (docs/API.md, "Files").

    POST /api/v1/blobs?to=<account>   body: the ciphertext, Content-Length its size -> 201 {blob_id, ...}
    GET  /api/v1/blobs/<id>           the ciphertext; ``Range: bytes=a-b`` resumes a download -> 206
    POST /api/v1/blobs/<id>/fetched   this device has it: deleted once every addressed device said so
    DELETE /api/v1/blobs/<id>         the uploader's account withdraws it (a cancelled send) -> 204
    GET  /api/v1/blobs/usage          {used_bytes, quota_bytes, max_blob_bytes}

The upload is streamed from the socket into the store in pieces, never read whole; the server cannot read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator

import msgspec
from aiohttp import web

from server import limits
from server.context import AppContext, Route
from server.errors import BadRequest, InvalidField
from server.http._base import API, bearer_principal, reply

__all__ = ["BlobOut", "FetchedOut", "UsageOut", "parse_range", "register"]

log = logging.getLogger(__name__)

_HEX_ID = r"{blob_id:[0-9a-f]{32}}"
_ACCOUNT = re.compile(r"^[0-9a-f]{32}$")
_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")
_READ_PIECE = 256 * 1024  # bytes taken from the socket per step: bounded memory per upload


class BlobOut(msgspec.Struct, frozen=True):
    blob_id: str
    size: int
    expires_at: int


class FetchedOut(msgspec.Struct, frozen=True):
    deleted: bool


class UsageOut(msgspec.Struct, frozen=True):
    used_bytes: int
    quota_bytes: int
    max_blob_bytes: int


def parse_range(header: str | None) -> tuple[int, int | None] | None:
    """One ``bytes=first-last`` / ``bytes=first-`` / ``bytes=-suffix`` range; None (whole file) otherwise,
    as RFC 9110 lets a server ignore a Range it does not support. A suffix comes back as (-n, None)."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        return -int(last), None
    if last != "" and int(last) < int(first):
        return None
    return int(first), int(last) if last != "" else None


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    try:
        while piece := await request.content.read(_READ_PIECE):
            yield piece
    except (ConnectionError, asyncio.IncompleteReadError, web.HTTPException) as exc:
        raise BadRequest("The upload was interrupted; nothing was kept.") from exc


def _closed(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def register(ctx: AppContext) -> None:
    service = ctx.services.blobs
    auth = ctx.services.auth

    async def upload(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        to = request.query.get("to", "")
        if not _ACCOUNT.match(to):
            raise InvalidField("Query parameter 'to' must be an account id.", {"field": "to"})
        size = request.content_length
        if size is None:
            raise BadRequest("Declare the upload's size with Content-Length.", {"header": "Content-Length"})
        service.check_size(size)  # before reading a byte
        info = await service.upload(caller, to, size, _body(request), lambda: _closed(request))
        return reply(BlobOut(info.blob_id, info.size, info.expires_at), status=201)

    async def download(request: web.Request) -> web.StreamResponse:
        caller = await bearer_principal(request, auth)
        wanted = parse_range(request.headers.get("Range"))
        got = await service.download(caller, request.match_info["blob_id"], wanted)
        partial = wanted is not None
        response = web.StreamResponse(status=206 if partial else 200)
        response.content_type = "application/octet-stream"
        response.content_length = got.end - got.start
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["Cache-Control"] = "no-store"
        if partial:
            response.headers["Content-Range"] = f"bytes {got.start}-{got.end - 1}/{got.info.size}"
        await response.prepare(request)
        try:
            async for piece in got.chunks:
                await response.write(piece)
            await response.write_eof()
        except ConnectionError:
            log.info("blob download cut by the client")
        finally:
            with contextlib.suppress(Exception):
                await got.chunks.aclose()
        return response

    async def fetched(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        return reply(FetchedOut(await service.confirm_fetched(caller, request.match_info["blob_id"])))

    async def withdraw(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        await service.withdraw(caller, request.match_info["blob_id"])
        return reply(status=204)

    async def usage(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        u = await service.usage(caller)
        return reply(UsageOut(u.used_bytes, u.quota_bytes, u.max_blob_bytes))

    async def sweep_forever() -> None:
        while True:
            try:
                await service.sweep()
            except Exception:
                log.exception("blob expiry sweep failed")
            await asyncio.sleep(limits.SWEEP_INTERVAL_SECONDS)

    tag = "files"
    ctx.add_route(
        Route("GET", f"{API}/blobs/usage", usage, "Your file storage use and limits", tag, response=UsageOut)
    )
    ctx.add_route(
        Route(
            "POST",
            f"{API}/blobs",
            upload,
            "Upload an encrypted file (raw body, Content-Length; query: to)",
            tag,
            response=BlobOut,
            status=201,
        )
    )
    ctx.add_route(
        Route("GET", f"{API}/blobs/{_HEX_ID}", download, "Download an encrypted file (Range supported)", tag)
    )
    ctx.add_route(
        Route(
            "POST",
            f"{API}/blobs/{_HEX_ID}/fetched",
            fetched,
            "Confirm this device fetched a file",
            tag,
            response=FetchedOut,
        )
    )
    ctx.add_route(
        Route(
            "DELETE",
            f"{API}/blobs/{_HEX_ID}",
            withdraw,
            "Delete a file you uploaded (a cancelled send); 404 if not yours",
            tag,
            status=204,
        )
    )
    ctx.add_background("blob-sweeper", sweep_forever)
