"""HTTP views: therapists' terms and clients' signed consent."""

from __future__ import annotations

from aiohttp import web

from server.context import AppContext, Route
from server.http._base import API, b64, bearer_principal, read_body, reply
from server.wire import requests as rq
from server.wire import responses as rs
from server.wire.decode import consent_signature

__all__ = ["register"]


def register(ctx: AppContext) -> None:
    s = ctx.services

    async def publish(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        body = await read_body(request, rq.TermsIn)
        terms = await s.consent.publish_terms(caller, body.text)
        return reply(rs.TermsPublishedOut(terms.version, b64(terms.terms_hash)))

    async def get_terms(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        t = await s.consent.get_terms(caller, request.match_info["account_id"])
        return reply(rs.TermsOut(t.therapist_id, t.version, t.text, b64(t.terms_hash), t.published_at))

    async def accept(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        body = await read_body(request, rq.ConsentIn)
        accepted_at = await s.consent.accept(caller, consent_signature(body))
        return reply(rs.ConsentAcceptedOut(accepted_at))

    async def list_consents(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        consents = await s.consent.list(caller)
        return reply(
            rs.ConsentsOut(
                [
                    rs.ConsentItemOut(
                        c.therapist_id,
                        c.client_id,
                        c.version,
                        c.accepted_at,
                        b64(c.terms_hash),
                        c.signed_at,
                        b64(c.signature),
                        c.device_id,
                    )
                    for c in consents
                ]
            )
        )

    tag = "consent"
    ctx.add_route(
        Route(
            "PUT",
            f"{API}/consent/terms",
            publish,
            "Publish a new version of your terms",
            tag,
            rq.TermsIn,
            rs.TermsPublishedOut,
        )
    )
    ctx.add_route(
        Route(
            "GET",
            f"{API}/therapists/{{account_id:[0-9a-f]{{32}}}}/terms",
            get_terms,
            "A therapist's current terms",
            tag,
            response=rs.TermsOut,
        )
    )
    ctx.add_route(
        Route(
            "POST",
            f"{API}/consent",
            accept,
            "Accept a therapist's current terms (signed)",
            tag,
            rq.ConsentIn,
            rs.ConsentAcceptedOut,
        )
    )
    ctx.add_route(
        Route(
            "GET",
            f"{API}/consent",
            list_consents,
            "Consents you gave or received",
            tag,
            response=rs.ConsentsOut,
        )
    )
