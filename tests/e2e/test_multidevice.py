"""A therapist with two devices: both receive what the client sends, and what one sends reaches the client
and is copied to the other (filed under the conversation with the client)."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import Practice


async def test_second_device_receives_everything_and_gets_copies_of_own_sends(practice: Practice) -> None:
    p = practice
    therapist, client = p.therapist, p.client
    await client.accept_terms(therapist.account_id)
    await client.send(therapist.account_id, "before the tablet was linked", timeout=30)
    assert [m.body for m in await therapist.receive(1, timeout=30)] == ["before the tablet was linked"]

    tablet = await p.link_device(therapist, "therapist-tablet")
    assert tablet.account_id == therapist.account_id and tablet.device_id != therapist.device_id

    # the client's cached device set is out of date: the SDK learns the new device and re-encrypts
    from_client = [await client.send(therapist.account_id, f"client {i}", timeout=30) for i in range(5)]
    for device in (therapist, tablet):
        got = await device.receive(5, timeout=30)
        assert [m.id for m in got] == from_client
        assert [m.body for m in got] == [f"client {i}" for i in range(5)]
        assert {(m.from_account, m.to_account) for m in got} == {(client.account_id, therapist.account_id)}

    # each therapist device writes; the client gets both, the other device gets a copy
    phone_ids, tablet_ids = await asyncio.gather(
        asyncio.gather(*[therapist.send(client.account_id, f"phone {i}", timeout=30) for i in range(3)]),
        asyncio.gather(*[tablet.send(client.account_id, f"tablet {i}", timeout=30) for i in range(3)]),
    )
    got = await client.receive(6, timeout=30)
    assert sorted(m.body for m in got) == sorted(
        [f"phone {i}" for i in range(3)] + [f"tablet {i}" for i in range(3)]
    )
    assert [m.id for m in got if m.from_device == therapist.device_id] == list(phone_ids)
    assert [m.id for m in got if m.from_device == tablet.device_id] == list(tablet_ids)

    copies_on_tablet = await tablet.receive(3, timeout=30)
    assert [m.id for m in copies_on_tablet] == list(phone_ids)
    assert {(m.from_device, m.to_account) for m in copies_on_tablet} == {
        (therapist.device_id, client.account_id)
    }
    copies_on_phone = await therapist.receive(3, timeout=30)
    assert [m.id for m in copies_on_phone] == list(tablet_ids)
    assert {(m.from_device, m.to_account) for m in copies_on_phone} == {(tablet.device_id, client.account_id)}

    # the client also reached the tablet after it restarted
    tablet = await p.reopen(tablet)
    last = await client.send(therapist.account_id, "see you thursday", timeout=30)
    assert [m.id for m in await tablet.receive(1, timeout=30)] == [last]
    assert [m.id for m in await therapist.receive(1, timeout=30)] == [last]


async def test_revoked_device_is_dropped_from_sends_without_an_error(practice: Practice) -> None:
    p = practice
    therapist, client = p.therapist, p.client
    await client.accept_terms(therapist.account_id)
    tablet = await p.link_device(therapist, "therapist-tablet")
    first = await client.send(therapist.account_id, "to both devices", timeout=30)
    assert [m.id for m in await tablet.receive(1, timeout=30)] == [first]
    assert [m.id for m in await therapist.receive(1, timeout=30)] == [first]

    await therapist.api.revoke_device(tablet.device_id)
    # the client still has a session with the tablet: the server refuses the stale device set, the SDK
    # refreshes it, drops the tablet and sends again under the same id
    second = await client.send(therapist.account_id, "to the phone only", timeout=30)
    assert [m.id for m in await therapist.receive(1, timeout=30)] == [second]
    assert tablet.device_id not in client.state.device_sets[therapist.account_id]


async def test_lock_revokes_the_token_and_removing_this_device_revokes_it_first(practice: Practice) -> None:
    from client.api import ApiClient
    from client.errors import ApiError

    p = practice
    therapist = p.therapist
    tablet = await p.link_device(therapist, "therapist-tablet")
    token = tablet.api.token
    await tablet.lock_device()  # "Lock": the token is revoked on the server, not just forgotten
    async with ApiClient(p.server.url) as thief:
        thief.token = token
        try:
            await thief.me()
            raise AssertionError("a locked device's token still works")
        except ApiError as exc:
            assert exc.code == "unauthenticated"

    phone = await p.link_device(therapist, "therapist-phone")
    keystore = phone.keystore_path
    await phone.remove_this_device()  # "Remove this account from this device"
    assert not keystore.exists()
    listed = [d["device_id"] for d in (await therapist.api.me())["devices"]]
    assert phone.device_id not in listed and therapist.device_id in listed
