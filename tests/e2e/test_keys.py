"""Token revocation and one-time prekey exhaustion, as a device experiences them."""

from __future__ import annotations

from tests.e2e.conftest import Practice


async def test_a_revoked_token_is_replaced_by_a_new_login_transparently(practice: Practice) -> None:
    p = practice
    client, therapist = p.client, p.therapist
    await client.accept_terms(therapist.account_id)

    # over the socket: the reconnect is refused as unauthenticated, the device logs in again and resumes
    revoked = client.api.token
    await client.api.logout()
    await client.realtime.stop()
    client.realtime.start()
    await client.realtime.wait_connected(30)
    assert client.api.token and client.api.token != revoked
    p.remember(client)
    message_id = await therapist.send(client.account_id, "still reachable", timeout=30)
    assert [m.id for m in await client.receive(1, timeout=30)] == [message_id]

    # over HTTP: the call is refused as unauthenticated, the device logs in again and retries it
    revoked = client.api.token
    await client.api.logout()
    contacts = await client.contacts()
    assert [c.account_id for c in contacts] == [therapist.account_id]
    assert client.api.token and client.api.token != revoked
    p.remember(client)


async def test_nobody_can_drain_one_time_prekeys_and_sessions_without_one_work(practice: Practice) -> None:
    """Version 1 let any linked account claim every one-time prekey in a second; now the server hands a
    requester at most 20 an hour and then bundles without one (replay-proof thanks to the replay cache)."""
    p = practice
    client, therapist = p.client, p.therapist
    await client.accept_terms(therapist.account_id)
    start = await therapist.api.prekey_count()
    bundles = [await client.api.device_bundle(therapist.device_id) for _ in range(25)]
    assert sum(b["one_time_prekey"] is not None for b in bundles) == 20
    assert await therapist.api.prekey_count() == start - 20

    # a session started from a bundle without a one-time prekey works
    client.book.drop(therapist.device_id)
    message_id = await client.send(therapist.account_id, "after the cap", timeout=30)
    assert [m.id for m in await therapist.receive(1, timeout=30)] == [message_id]


async def test_signed_prekeys_rotate_weekly_and_claimed_secrets_expire(practice: Practice) -> None:
    from crypto.limits import (
        CLAIMED_PREKEY_GRACE_SECONDS,
        SIGNED_PREKEY_GRACE_SECONDS,
        SIGNED_PREKEY_ROTATION_SECONDS,
    )

    p = practice
    client, therapist = p.client, p.therapist
    await client.accept_terms(therapist.account_id)
    old = therapist.state.current_signed_prekey
    born = therapist.state.signed_prekey_created[str(old)]
    assert not await therapist.prekeys.rotate_signed_prekey(now=born + 1000)  # not a week old yet
    week_later = born + 1000 * SIGNED_PREKEY_ROTATION_SECONDS
    assert await therapist.prekeys.rotate_signed_prekey(now=week_later)
    new = therapist.state.current_signed_prekey
    assert new != old and str(old) in therapist.state.signed_prekeys  # kept for its grace period
    assert (await client.api.device_bundle(therapist.device_id))["signed_prekey"]["id"] == new
    claimed = sorted(int(k) for k in therapist.state.one_time_prekeys)[0]  # the bundle above claimed it

    message_id = await client.send(therapist.account_id, "after the rotation", timeout=30)
    assert [m.id for m in await therapist.receive(1, timeout=30)] == [message_id]

    async with therapist.lock:
        assert await therapist.prekeys.delete_expired(now=week_later + 1000) == []
        gone = await therapist.prekeys.delete_expired(now=week_later + 1000 * SIGNED_PREKEY_GRACE_SECONDS)
    assert gone == [old] and str(old) not in therapist.state.signed_prekeys

    assert claimed not in await therapist.prekeys.expire_claimed_prekeys(now=week_later)
    assert str(claimed) in therapist.state.one_time_prekeys  # claimed, unused: kept for a while
    later = week_later + 1000 * CLAIMED_PREKEY_GRACE_SECONDS
    assert claimed in await therapist.prekeys.expire_claimed_prekeys(now=later)
    assert str(claimed) not in therapist.state.one_time_prekeys
