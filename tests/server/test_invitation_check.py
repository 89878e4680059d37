"""POST /invitations/check: before anyone types a passphrase, the join page learns whether an invitation
code can still be redeemed and for which role, and nothing else; anonymous, rate limited per IP."""

from __future__ import annotations

from server import limits
from tests.server._kit import API
from tests.server.conftest import Server


async def _check(server: Server, code: str) -> dict[str, object]:
    r = await server.http.call("POST", f"{API}/invitations/check", {"invitation_code": code})
    assert r.status == 200, r.body
    body: dict[str, object] = r.body
    return body


async def test_role_while_usable_then_nothing(server: Server) -> None:
    admin = await server.admin()
    therapist = await server.therapist(admin)
    client_code = await server.invite(therapist, "client")
    assert await _check(server, client_code) == {"valid": True, "role": "client"}
    therapist_code = await server.invite(admin, "therapist")
    assert await _check(server, therapist_code) == {"valid": True, "role": "therapist"}
    # Checking does not use the invitation up.
    await server.redeem(client_code)
    assert await _check(server, client_code) == {"valid": False, "role": None}
    assert await _check(server, "never-issued") == {"valid": False, "role": None}
    expiring = await server.invite(therapist, "client")
    server.clock.advance(server.ctx.settings.invitation_ttl_seconds + 1)
    assert await _check(server, expiring) == {"valid": False, "role": None}


async def test_checks_are_rate_limited_per_ip(server: Server) -> None:
    allowed = limits.RATE_INVITATION_CHECK_PER_IP[0]
    for _ in range(allowed):
        await _check(server, "guess")
    r = await server.http.call("POST", f"{API}/invitations/check", {"invitation_code": "guess"})
    assert (r.status, r.code) == (429, "rate_limited")
