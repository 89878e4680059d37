"""HTTP views: the practice's settings (docs/API.md "Practice settings"). Thin: authenticate, call one
service method, serialise."""

from __future__ import annotations

import msgspec
from aiohttp import web

from server.context import AppContext, Route
from server.http._base import API, bearer_principal, read_body, reply
from storage.practice import PracticeSettings

__all__ = ["register"]


class PracticeIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    require_verified_safety_numbers: bool


class PracticeOut(msgspec.Struct, frozen=True):
    require_verified_safety_numbers: bool
    updated_at: int


def _out(settings: PracticeSettings) -> PracticeOut:
    return PracticeOut(settings.require_verified_safety_numbers, settings.updated_at)


def register(ctx: AppContext) -> None:
    auth = ctx.services.auth
    practice = ctx.services.practice

    async def get_settings(request: web.Request) -> web.Response:
        return reply(_out(await practice.get(await bearer_principal(request, auth))))

    async def put_settings(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        body = await read_body(request, PracticeIn)
        rule = body.require_verified_safety_numbers
        settings = await practice.set(caller, require_verified_safety_numbers=rule)
        return reply(_out(settings))

    ctx.add_route(Route("GET", f"{API}/practice", get_settings,
                        "The practice's settings (every client enforces them)", "practice",
                        response=PracticeOut))
    ctx.add_route(Route("PUT", f"{API}/admin/practice", put_settings, "Change the practice's settings",
                        "admin", body=PracticeIn, response=PracticeOut))
