"""The send path's authorization cache never changes an answer (server/services/authz_cache.py).

Each test first sends once so that the pair's facts are cached, then changes them through the real app
(HTTP, the admin API or a service) and checks that the very next send gets the new answer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from server.config import Settings
from server.errors import AppError, ErrorCode
from server.realtime import SocketNotifier
from server.services import build_services
from server.services.authz_cache import AuthzCache
from server.services.values import Principal
from server.wire.decode import from_data, send_request
from server.wire.requests import SendIn
from storage.records import SendOutcome
from tests.server._kit import API, Device, eventually_async
from tests.server.conftest import Server


async def _send(sender: Device, to: Device, devices: list[str]) -> tuple[int, str | None, Any]:
    r = await sender.call("POST", f"{API}/messages", sender.send_body(to.account_id, devices))
    return r.status, r.code, r.body


async def _warm(server: Server, sender: Device, to: Device, devices: list[str]) -> None:
    assert (await _send(sender, to, devices))[0] == 200
    assert len(server.ctx.services.authz) >= 1  # the facts are now served from memory


async def _send_as(
    server: Server, principal: Principal, to: Device, devices: list[str], sender: Device
) -> SendOutcome:
    """The mailbox service with a principal authenticated before a change (a connection that outlived it)."""
    body = from_data(sender.send_body(to.account_id, devices), SendIn)
    return await server.ctx.services.mailbox.send(principal, send_request(body, principal.device_id))


async def test_cache_is_on_for_the_embedded_single_node_deployment(server: Server) -> None:
    therapist, client = await server.pair()
    authz = server.ctx.services.authz
    assert authz.enabled
    await _warm(server, client, therapist, [therapist.device_id])
    entries = len(authz)
    assert (await _send(client, therapist, [therapist.device_id]))[0] == 200
    assert len(authz) == entries


async def test_added_recipient_device_must_be_addressed_at_once(server: Server) -> None:
    therapist, client = await server.pair()
    await _warm(server, client, therapist, [therapist.device_id])
    second = await server.add_device(therapist)
    status, code, body = await _send(client, therapist, [therapist.device_id])
    assert (status, code) == (409, "device_set_mismatch")
    assert body["error"]["details"]["missing"] == [second.device_id]
    assert (await _send(client, therapist, [therapist.device_id, second.device_id]))[0] == 200


async def test_added_own_device_must_be_addressed_at_once(server: Server) -> None:
    therapist, client = await server.pair()
    await _warm(server, client, therapist, [therapist.device_id])
    mine = await server.add_device(client)
    status, code, body = await _send(client, therapist, [therapist.device_id])
    assert (status, code) == (409, "device_set_mismatch")
    assert body["error"]["details"]["missing"] == [mine.device_id]


async def test_revoked_recipient_device_is_stale_at_once(server: Server) -> None:
    therapist, client = await server.pair()
    second = await server.add_device(therapist)
    await _warm(server, client, therapist, [therapist.device_id, second.device_id])
    assert (await therapist.call("DELETE", f"{API}/devices/{second.device_id}")).status == 204
    status, code, body = await _send(client, therapist, [therapist.device_id, second.device_id])
    assert (status, code) == (409, "device_set_mismatch")
    assert body["error"]["details"]["stale"] == [second.device_id]
    assert (await _send(client, therapist, [therapist.device_id]))[0] == 200


async def test_revoked_sending_device_is_refused_at_once(server: Server) -> None:
    therapist, client = await server.pair()
    second = await server.add_device(client)
    principal = await server.ctx.services.auth.authenticate(second.token)
    await _warm(server, second, therapist, [therapist.device_id, client.device_id])
    assert (await client.call("DELETE", f"{API}/devices/{second.device_id}")).status == 204
    before = await server.count("mailbox")
    with pytest.raises(AppError) as refused:
        await _send_as(server, principal, therapist, [therapist.device_id, client.device_id], second)
    assert refused.value.code is ErrorCode.UNAUTHENTICATED
    assert await server.count("mailbox") == before


async def test_admin_revocation_is_refused_at_once(server: Server) -> None:
    admin = await server.admin()
    therapist = await server.therapist(admin)
    client = await server.client(therapist)
    await server.publish_terms(therapist)
    await server.consent(client, therapist)
    second = await server.add_device(therapist)
    await _warm(server, client, therapist, [therapist.device_id, second.device_id])
    assert (await admin.call("DELETE", f"{API}/admin/devices/{second.device_id}")).status == 204
    status, code, body = await _send(client, therapist, [therapist.device_id, second.device_id])
    assert (status, code) == (409, "device_set_mismatch")
    assert body["error"]["details"]["stale"] == [second.device_id]


async def test_disabled_recipient_is_refused_at_once(server: Server) -> None:
    admin = await server.admin()
    therapist = await server.therapist(admin)
    client = await server.client(therapist)
    await server.publish_terms(therapist)
    await server.consent(client, therapist)
    await _warm(server, therapist, client, [client.device_id])
    r = await admin.call("POST", f"{API}/admin/accounts/{client.account_id}/disable")
    assert r.status == 200, r.body
    assert (await _send(therapist, client, [client.device_id]))[:2] == (403, "forbidden")
    assert (await admin.call("POST", f"{API}/admin/accounts/{client.account_id}/enable")).status == 200
    assert (await _send(therapist, client, [client.device_id]))[0] == 200
    await server.ctx.services.accounts.set_disabled(client.account_id, True)  # the operator's path
    assert (await _send(therapist, client, [client.device_id]))[:2] == (403, "forbidden")


async def test_disabled_sender_is_refused_at_once(server: Server) -> None:
    therapist, client = await server.pair()
    principal = await server.ctx.services.auth.authenticate(client.token)
    await _warm(server, client, therapist, [therapist.device_id])
    await server.ctx.services.accounts.set_disabled(client.account_id, True)
    before = await server.count("mailbox")
    with pytest.raises(AppError) as refused:
        await _send_as(server, principal, therapist, [therapist.device_id], client)
    assert refused.value.code is ErrorCode.FORBIDDEN
    assert await server.count("mailbox") == before


async def test_new_terms_require_consent_at_once(server: Server) -> None:
    therapist, client = await server.pair()
    await _warm(server, client, therapist, [therapist.device_id])
    await _warm(server, therapist, client, [client.device_id])
    await server.publish_terms(therapist, "Terms v2: also no recordings.")
    status, code, body = await _send(client, therapist, [therapist.device_id])
    assert (status, code) == (403, "consent_required")
    assert body["error"]["details"]["version"] == 2
    assert (await _send(therapist, client, [client.device_id]))[1] == "consent_required"
    await server.consent(client, therapist)
    assert (await _send(client, therapist, [therapist.device_id]))[0] == 200
    assert (await _send(therapist, client, [client.device_id]))[0] == 200


async def test_new_client_can_be_reached_at_once(server: Server) -> None:
    therapist, client = await server.pair()
    await _warm(server, therapist, client, [client.device_id])
    newcomer = await server.client(therapist)
    assert (await _send(therapist, newcomer, [newcomer.device_id]))[1] == "consent_required"
    await server.consent(newcomer, therapist)
    assert (await _send(therapist, newcomer, [newcomer.device_id]))[0] == 200


async def test_cancelled_write_still_invalidates(server: Server) -> None:
    # A request cancelled after its write was queued: the write commits anyway, so it must still invalidate.
    therapist, client = await server.pair()
    await _warm(server, therapist, client, [client.device_id])
    task = asyncio.create_task(server.ctx.services.accounts.set_disabled(client.account_id, True))
    await asyncio.sleep(0)  # the write is queued
    task.cancel()

    async def disabled() -> bool:
        account = await server.ctx.storage.accounts.get_account(client.account_id)
        return account is not None and account.disabled

    await eventually_async(disabled, True)
    await asyncio.sleep(0)  # the write's completion callbacks run in the loop iteration after its commit
    assert (await _send(therapist, client, [client.device_id]))[:2] == (403, "forbidden")


async def test_a_read_that_raced_a_change_is_not_kept(server: Server) -> None:
    therapist, client = await server.pair()
    authz = server.ctx.services.authz
    pair = (therapist.account_id, client.account_id)
    read = asyncio.create_task(authz.get_send_facts(client.account_id, therapist.account_id, pair))
    await asyncio.sleep(0)  # the read is issued
    authz.invalidate(therapist.account_id)  # as a write committed meanwhile would
    await read
    assert len(authz) == 0
    await authz.get_send_facts(client.account_id, therapist.account_id, pair)
    assert len(authz) == 1


async def test_a_full_cache_is_cleared_not_wrong(server: Server) -> None:
    therapist, client = await server.pair()
    second = await server.client(therapist)
    await server.consent(second, therapist)
    authz = AuthzCache(server.ctx.storage.send_facts, enabled=True, max_entries=1)
    for other in (client, second, client):
        facts = await authz.get_send_facts(
            therapist.account_id, other.account_id, (therapist.account_id, other.account_id)
        )
        assert facts.active_devices == {therapist.device_id, other.device_id}
        assert len(authz) == 1


async def test_cache_is_off_when_other_nodes_may_write(server: Server, tmp_path: Path) -> None:
    notifier = SocketNotifier(server.ctx.sio)
    for multi_node in ({"redis_url": "redis://127.0.0.1:6379/0"}, {"mongodb_uri": "mongodb://127.0.0.1/x"}):
        settings = Settings(data_dir=tmp_path, web_root=None, **multi_node)  # type: ignore[arg-type]
        services = build_services(settings, server.ctx.storage, server.ctx.broker, notifier, server.clock,
                                  ops=server.ctx.ops, node_id=server.ctx.node_id)
        assert not services.authz.enabled
    therapist, client = await server.pair()
    assert not services.authz.enabled
    facts = await services.authz.get_send_facts(
        client.account_id, therapist.account_id, (therapist.account_id, client.account_id)
    )
    assert facts.pair is not None and facts.pair.linked and len(services.authz) == 0
