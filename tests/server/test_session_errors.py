"""A video-session refusal reaches the client as the error envelope with its generic code and exact reason;
a refusal with a code the server does not know is still a refusal (403), never a 500."""

from __future__ import annotations

import inspect

import aiohttp
from aiohttp import web

from server.errors import STATUS, ErrorCode, to_app_error
from server.http.middleware import error_middleware
from signaling import errors
from signaling.errors import SessionError
from tests.fixtures.ports import free_port


class _UnknownCode(SessionError):
    code, reason = "no_such_code", "made_up"


def test_every_session_refusal_has_a_known_client_error_code() -> None:
    refusals = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, SessionError)]
    assert len(refusals) > 5
    for refusal in refusals:
        assert ErrorCode(refusal.code) and STATUS[ErrorCode(refusal.code)] < 500, refusal


def test_known_and_unknown_codes_map_to_refusals() -> None:
    full = to_app_error(errors.SessionFull("The session is full."))
    assert (full.status, full.code, full.details) == (409, ErrorCode.CONFLICT, {"reason": "session_full"})
    unknown = to_app_error(_UnknownCode("Refused.", field="x"))
    assert (unknown.status, unknown.code) == (403, ErrorCode.FORBIDDEN)
    assert unknown.details == {"reason": "made_up", "field": "x"}


async def test_an_unknown_code_over_http_is_a_403_not_a_500() -> None:
    async def refuse(request: web.Request) -> web.Response:
        raise _UnknownCode("Refused by a session rule.")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/api/v1/refuse", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/api/v1/refuse") as r:
            body = await r.json()
        assert r.status == 403
        assert body["error"]["code"] == "forbidden"
        assert body["error"]["details"] == {"reason": "made_up"}
    finally:
        await runner.cleanup()
