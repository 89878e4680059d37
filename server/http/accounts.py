"""HTTP views: invitations, accounts, devices, linking, contacts.

docs/API.md "Accounts, invitations, devices" and "Linking a device".
"""

from __future__ import annotations

from aiohttp import web

from server import limits
from server.context import AppContext, Route
from server.errors import InvalidField
from server.http._base import API, b64, bearer_principal, client_ip, read_body, reply
from server.services.accounts import Contact
from server.services.device_links import LinkState
from server.wire import requests as rq
from server.wire import responses as rs
from server.wire.decode import b64 as decode_b64
from server.wire.decode import device_keys
from storage.records import Invitation, Role

__all__ = ["register"]

_HEX_ID = r"{%s:[0-9a-f]{32}}"


def _invitation_out(i: Invitation) -> rs.InvitationOut:
    return rs.InvitationOut(
        invitation_id=i.invitation_id,
        role=i.role.value,
        expires_at=i.expires_at,
        used_at=i.used_at,
        account_id=i.account_id,
        label_ciphertext=None if i.label_ciphertext is None else b64(i.label_ciphertext),
    )


def _certificate_out(certificate: bytes) -> rs.CertificateOut:
    return rs.CertificateOut(int.from_bytes(certificate[:8], "big"), b64(certificate[8:]))


def _link_state_out(state: LinkState) -> rs.LinkStateOut:
    return rs.LinkStateOut(
        link_id=state.link_id,
        state=state.state,
        offer_key=None if state.offer_key is None else b64(state.offer_key),
        account_id=state.account_id,
        bundle=None if state.bundle is None else b64(state.bundle),
        expires_at=state.expires_at,
    )


def _contact_out(c: Contact) -> rs.ContactOut:
    return rs.ContactOut(
        account_id=c.account.account_id,
        account_key=b64(c.account.account_key),
        role=c.account.role.value,
        label_ciphertext=None if c.label_ciphertext is None else b64(c.label_ciphertext),
        consent=rs.ConsentStatusOut(c.consent.accepted_version, c.consent.current_version),
        devices=[
            rs.ContactDeviceOut(d.device_id, b64(d.identity_key), _certificate_out(d.certificate))
            for d in c.devices
        ],
    )


def register(ctx: AppContext) -> None:
    s = ctx.services
    settings = ctx.settings

    async def create_invitation(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        body = await read_body(request, rq.CreateInvitationIn)
        try:
            role = Role(body.role)
        except ValueError:
            raise InvalidField("role must be 'therapist' or 'client'.", {"field": "role"}) from None
        label = None
        if body.label_ciphertext is not None:
            label = decode_b64(
                body.label_ciphertext, "label_ciphertext", max_size=limits.MAX_LABEL_CIPHERTEXT_BYTES
            )
        created = await s.invitations.create(caller, role, body.ttl_seconds, label)
        inv = created.invitation
        out = rs.InvitationCreatedOut(
            inv.invitation_id, created.code, inv.expires_at, settings.invitation_url(created.code)
        )
        return reply(out, 201)

    async def list_invitations(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        invitations = await s.invitations.list(caller)
        return reply(rs.InvitationsOut([_invitation_out(i) for i in invitations]))

    async def revoke_invitation(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        await s.invitations.revoke(caller, request.match_info["invitation_id"])
        return reply()

    async def check_invitation(request: web.Request) -> web.Response:
        body = await read_body(request, rq.InvitationCheckIn)  # the code in a body, never in a logged URL
        role = await s.accounts.check_invitation(body.invitation_code, client_ip(request))
        return reply(rs.InvitationCheckOut(role is not None, None if role is None else role.value))

    async def create_account(request: web.Request) -> web.Response:
        body = await read_body(request, rq.CreateAccountIn)
        account_key = decode_b64(body.account.account_key, "account.account_key", limits.PUBLIC_KEY_BYTES)
        created = await s.accounts.create_account(
            body.invitation_code,
            body.account.account_id,
            account_key,
            device_keys(body.device),
            client_ip(request),
        )
        out = rs.AccountCreatedOut(
            created.account.account_id,
            created.device.device_id,
            created.account.role.value,
            created.linked_account_id,
        )
        return reply(out, 201)

    async def me(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        account, devices = await s.accounts.get_me(caller)
        out = rs.MeOut(
            caller.account_id,
            b64(account.account_key),
            caller.role.value,
            caller.device_id,
            [
                rs.DeviceOut(d.device_id, b64(d.identity_key), _certificate_out(d.certificate), d.created_at)
                for d in devices
            ],
        )
        return reply(out)

    async def create_link(request: web.Request) -> web.Response:
        body = await read_body(request, rq.LinkRequestIn)
        state = await s.device_links.create(
            decode_b64(body.link_key, "link_key", limits.PUBLIC_KEY_BYTES),
            body.device_id,
            decode_b64(body.identity_key, "identity_key", limits.PUBLIC_KEY_BYTES),
            client_ip(request),
        )
        return reply(rs.LinkCreatedOut(state.link_id, state.expires_at), 201)

    async def get_link(request: web.Request) -> web.Response:
        state = await s.device_links.get(request.match_info["link_id"], client_ip(request))
        return reply(_link_state_out(state))

    async def offer_link(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        body = await read_body(request, rq.LinkOfferIn)
        key = decode_b64(body.link_key, "link_key", limits.PUBLIC_KEY_BYTES)
        state = await s.device_links.offer(caller, request.match_info["link_id"], key)
        out = rs.LinkOfferedOut(state.link_id, state.device_id, b64(state.identity_key), state.expires_at)
        return reply(out)

    async def approve_link(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        body = await read_body(request, rq.LinkApproveIn)
        bundle = decode_b64(body.bundle, "bundle", max_size=limits.MAX_LINK_BUNDLE_B64_CHARS)
        await s.device_links.approve(caller, request.match_info["link_id"], bundle)
        return reply()

    async def cancel_link(request: web.Request) -> web.Response:
        await s.device_links.cancel(request.match_info["link_id"], client_ip(request))
        return reply()

    async def add_device(request: web.Request) -> web.Response:
        body = await read_body(request, rq.AddDeviceIn)
        account, device = await s.device_links.register(
            body.link_id, device_keys(body.device), client_ip(request)
        )
        return reply(rs.DeviceAddedOut(account.account_id, device.device_id, account.role.value), 201)

    async def revoke_device(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        await s.accounts.revoke_device(caller, request.match_info["device_id"])
        return reply()

    async def contacts(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, s.auth)
        return reply(rs.ContactsOut([_contact_out(c) for c in await s.accounts.contacts(caller)]))

    tag = "accounts"
    for route in (
        Route(
            "POST",
            f"{API}/invitations",
            create_invitation,
            "Invite a therapist (admin) or a client (therapist)",
            tag,
            rq.CreateInvitationIn,
            rs.InvitationCreatedOut,
            status=201,
        ),
        Route(
            "GET",
            f"{API}/invitations",
            list_invitations,
            "Invitations you issued",
            tag,
            response=rs.InvitationsOut,
        ),
        Route(
            "DELETE",
            f"{API}/invitations/{_HEX_ID % 'invitation_id'}",
            revoke_invitation,
            "Revoke an unused invitation",
            tag,
            status=204,
        ),
        Route(
            "POST",
            f"{API}/invitations/check",
            check_invitation,
            "Whether an invitation code can still be redeemed, and for which role",
            tag,
            rq.InvitationCheckIn,
            rs.InvitationCheckOut,
            auth=False,
        ),
        Route(
            "POST",
            f"{API}/accounts",
            create_account,
            "Redeem an invitation: create account and first device",
            tag,
            rq.CreateAccountIn,
            rs.AccountCreatedOut,
            auth=False,
            status=201,
        ),
        Route("GET", f"{API}/me", me, "Your account and its devices", tag, response=rs.MeOut),
        Route(
            "POST",
            f"{API}/device-links",
            create_link,
            "New device: ask to be linked (shows a code with this link key)",
            tag,
            rq.LinkRequestIn,
            rs.LinkCreatedOut,
            auth=False,
            status=201,
        ),
        Route(
            "GET",
            f"{API}/device-links/{_HEX_ID % 'link_id'}",
            get_link,
            "State of a pending link (polled by both devices)",
            tag,
            response=rs.LinkStateOut,
            auth=False,
        ),
        Route(
            "POST",
            f"{API}/device-links/{_HEX_ID % 'link_id'}/offer",
            offer_link,
            "Existing device: answer a new device's code with its own link key",
            tag,
            rq.LinkOfferIn,
            rs.LinkOfferedOut,
        ),
        Route(
            "POST",
            f"{API}/device-links/{_HEX_ID % 'link_id'}/approve",
            approve_link,
            "Existing device: leave the sealed account bundle after the person confirmed",
            tag,
            rq.LinkApproveIn,
            status=204,
        ),
        Route(
            "DELETE",
            f"{API}/device-links/{_HEX_ID % 'link_id'}",
            cancel_link,
            "Cancel a pending link",
            tag,
            auth=False,
            status=204,
        ),
        Route(
            "POST",
            f"{API}/devices",
            add_device,
            "New device: register with the certificate an existing device issued",
            tag,
            rq.AddDeviceIn,
            rs.DeviceAddedOut,
            auth=False,
            status=201,
        ),
        Route(
            "DELETE",
            f"{API}/devices/{_HEX_ID % 'device_id'}",
            revoke_device,
            "Revoke one of your devices",
            tag,
            status=204,
        ),
        Route(
            "GET",
            f"{API}/contacts",
            contacts,
            "Your linked therapist or clients",
            tag,
            response=rs.ContactsOut,
        ),
    ):
        ctx.add_route(route)
