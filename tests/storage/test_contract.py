"""The storage contract: every adapter (fixture ``store``) must pass all of these."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from storage.errors import (
    DeviceLimitReached,
    InvitationUnusable,
    LinkCodeUnusable,
    PrekeyIdConflict,
    PrekeyLimitReached,
)
from storage.mongodb import MongoStorage
from storage.protocols import Storage
from storage.records import Consent, OneTimePrekey, Role, SignedPrekey, TokenRecord
from storage.sqlite import SqliteStorage
from tests.storage.contract import NOW, code_hash, invitation, new_device, new_id, send


async def _account(store: Storage, role: Role, inviter_id: str | None = None, prekeys: int = 3):  # type: ignore[no-untyped-def]
    code = new_id()
    await store.invitations.add_invitation(invitation(code, role, inviter_id, label=b"label"))
    device = new_device(prekeys)
    account, _inv = await store.accounts.add_account_from_invitation(
        code_hash=code_hash(code), account_id=new_id(), device=device, now=NOW
    )
    return account, device


async def test_redeem_creates_account_device_and_link(store: Storage) -> None:
    therapist, _ = await _account(store, Role.THERAPIST)
    client, device = await _account(store, Role.CLIENT, therapist.account_id)
    assert (await store.accounts.get_account(client.account_id)) == client
    link = await store.links.get_link(therapist.account_id, client.account_id)
    assert link is not None and link.label_ciphertext == b"label"
    assert [lk.client_id for lk in await store.links.get_links_of(therapist.account_id)] == [
        client.account_id
    ]
    [stored] = await store.devices.get_devices([client.account_id])
    assert stored.device_id == device.device_id and stored.active
    assert await store.prekeys.count_one_time_prekeys(device.device_id) == 3
    [inv] = await store.invitations.get_invitations_by_inviter(therapist.account_id)
    assert inv.used_at == NOW and inv.account_id == client.account_id


async def test_invitation_found_by_code_hash_used_or_not(store: Storage) -> None:
    await store.invitations.add_invitation(invitation("fresh", Role.CLIENT))
    fresh = await store.invitations.get_invitation_by_code_hash(code_hash("fresh"))
    assert fresh is not None and fresh.role is Role.CLIENT and fresh.used_at is None
    await store.accounts.add_account_from_invitation(
        code_hash=code_hash("fresh"), account_id=new_id(), device=new_device(), now=NOW
    )
    used = await store.invitations.get_invitation_by_code_hash(code_hash("fresh"))
    assert used is not None and used.used_at == NOW
    assert await store.invitations.get_invitation_by_code_hash(code_hash("never issued")) is None


async def test_invitation_is_single_use_even_under_concurrency(store: Storage) -> None:
    code = "the-code"
    await store.invitations.add_invitation(invitation(code, Role.ADMIN))
    results = await asyncio.gather(
        *(
            store.accounts.add_account_from_invitation(
                code_hash=code_hash(code), account_id=new_id(), device=new_device(), now=NOW
            )
            for _ in range(5)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, InvitationUnusable) for r in results if isinstance(r, BaseException))
    assert await store.accounts.count_accounts() == 1


@pytest.mark.parametrize("case", ["expired", "revoked", "unknown"])
async def test_unusable_invitations_change_nothing(store: Storage, case: str) -> None:
    admin, _ = await _account(store, Role.ADMIN)
    inv = invitation("c", Role.THERAPIST, admin.account_id)
    await store.invitations.add_invitation(inv)
    now = NOW
    if case == "expired":
        now = inv.expires_at
    elif case == "revoked":
        assert await store.invitations.revoke_invitation(inv.invitation_id, admin.account_id, NOW)
    code = "other" if case == "unknown" else "c"
    with pytest.raises(InvitationUnusable):
        await store.accounts.add_account_from_invitation(
            code_hash=code_hash(code), account_id=new_id(), device=new_device(), now=now
        )
    assert await store.accounts.count_accounts() == 1


async def test_disabled_inviter_invitation_is_unusable(store: Storage) -> None:
    admin, _ = await _account(store, Role.ADMIN)
    await store.invitations.add_invitation(invitation("c", Role.THERAPIST, admin.account_id))
    assert await store.accounts.set_account_disabled(admin.account_id, True)
    with pytest.raises(InvitationUnusable):
        await store.accounts.add_account_from_invitation(
            code_hash=code_hash("c"), account_id=new_id(), device=new_device(), now=NOW
        )


async def test_operator_invitations_revoked_together(store: Storage) -> None:
    await store.invitations.add_invitation(invitation("a", Role.ADMIN))
    await store.invitations.add_invitation(invitation("b", Role.ADMIN))
    assert await store.invitations.revoke_operator_invitations(Role.ADMIN, NOW) == 2
    with pytest.raises(InvitationUnusable):
        await store.accounts.add_account_from_invitation(
            code_hash=code_hash("a"), account_id=new_id(), device=new_device(), now=NOW
        )


async def test_link_code_adds_device_once_and_respects_the_limit(store: Storage) -> None:
    account, _ = await _account(store, Role.CLIENT)
    await store.devices.add_link_code(code_hash("lc"), account.account_id, NOW + 1000)
    with pytest.raises(DeviceLimitReached):
        await store.devices.add_device_with_link_code(
            code_hash=code_hash("lc"), device=new_device(), max_devices=1, now=NOW
        )
    added = await store.devices.add_device_with_link_code(
        code_hash=code_hash("lc"), device=new_device(), max_devices=2, now=NOW
    )
    assert added.account_id == account.account_id
    with pytest.raises(LinkCodeUnusable):
        await store.devices.add_device_with_link_code(
            code_hash=code_hash("lc"), device=new_device(), max_devices=5, now=NOW
        )
    assert len(await store.devices.get_devices([account.account_id])) == 2


async def test_expired_link_code_is_unusable(store: Storage) -> None:
    account, _ = await _account(store, Role.CLIENT)
    await store.devices.add_link_code(code_hash("lc"), account.account_id, NOW)
    with pytest.raises(LinkCodeUnusable):
        await store.devices.add_device_with_link_code(
            code_hash=code_hash("lc"), device=new_device(), max_devices=5, now=NOW
        )
    assert await store.devices.delete_expired_link_codes(NOW) == 1


async def test_prekeys_claimed_oldest_first_and_never_twice(store: Storage) -> None:
    _, device = await _account(store, Role.CLIENT, prekeys=0)
    ids = list(range(50, 90))
    await store.prekeys.add_one_time_prekeys(
        device.device_id, [OneTimePrekey(i, bytes(32)) for i in ids], 1000
    )
    bundles = await asyncio.gather(*(store.prekeys.claim_bundles([device.device_id]) for _ in range(45)))
    claimed = [b[0].one_time_prekey.id for b in bundles if b[0].one_time_prekey is not None]
    assert sorted(claimed) == ids  # every key handed out exactly once
    assert sum(b[0].one_time_prekey is None for b in bundles) == 5  # then bundles without one
    assert await store.prekeys.count_one_time_prekeys(device.device_id) == 0


async def test_claim_order_is_upload_order(store: Storage) -> None:
    _, device = await _account(store, Role.CLIENT, prekeys=0)
    await store.prekeys.add_one_time_prekeys(
        device.device_id, [OneTimePrekey(i, bytes(32)) for i in (7, 3, 5)], 10
    )
    order = []
    for remaining in (2, 1, 0):
        [bundle] = await store.prekeys.claim_bundles([device.device_id])
        assert bundle.remaining == remaining
        assert bundle.one_time_prekey is not None
        order.append(bundle.one_time_prekey.id)
    assert order == [7, 3, 5]


async def test_prekey_conflicts_and_limits_store_nothing(store: Storage) -> None:
    _, device = await _account(store, Role.CLIENT, prekeys=3)  # ids 1..3
    with pytest.raises(PrekeyIdConflict):
        await store.prekeys.add_one_time_prekeys(
            device.device_id, [OneTimePrekey(9, bytes(32)), OneTimePrekey(2, bytes(32))], 100
        )
    with pytest.raises(PrekeyLimitReached):
        await store.prekeys.add_one_time_prekeys(device.device_id, [OneTimePrekey(10, bytes(32))], 3)
    assert await store.prekeys.count_one_time_prekeys(device.device_id) == 3


async def test_revoked_device_loses_tokens_prekeys_and_mailbox(store: Storage) -> None:
    therapist, t_dev = await _account(store, Role.THERAPIST)
    client, c_dev = await _account(store, Role.CLIENT, therapist.account_id)
    await store.tokens.add_token(b"h" * 32, TokenRecord(t_dev.device_id, therapist.account_id, NOW + 1000))
    await store.mailbox.add_send(
        send(client.account_id, c_dev.device_id, therapist.account_id, [t_dev.device_id])
    )
    assert await store.devices.revoke_device(t_dev.device_id, NOW)
    assert not await store.devices.revoke_device(t_dev.device_id, NOW)  # only once
    assert await store.tokens.get_token(b"h" * 32) is None
    assert await store.mailbox.get_items(t_dev.device_id, 0, 10, NOW) == []
    assert await store.prekeys.claim_bundles([t_dev.device_id]) == []
    [dev] = await store.devices.get_devices([therapist.account_id])
    assert dev.revoked_at == NOW and not dev.active


async def test_signed_prekey_rotation(store: Storage) -> None:
    _, device = await _account(store, Role.CLIENT)
    spk = SignedPrekey(2, bytes(32), bytes(64))
    await store.devices.set_signed_prekey(device.device_id, spk)
    stored = await store.devices.get_device(device.device_id)
    assert stored is not None and stored.signed_prekey == spk


async def test_challenges_are_single_use_and_bound_to_device(store: Storage) -> None:
    _, device = await _account(store, Role.CLIENT)
    await store.challenges.add_challenge(b"n" * 32, device.device_id, NOW + 1000)
    assert not await store.challenges.take_challenge(b"n" * 32, new_id(), NOW)  # wrong device consumes it
    assert not await store.challenges.take_challenge(b"n" * 32, device.device_id, NOW)
    await store.challenges.add_challenge(b"m" * 32, device.device_id, NOW + 1000)
    assert not await store.challenges.take_challenge(b"m" * 32, device.device_id, NOW + 1000)  # expired
    await store.challenges.add_challenge(b"o" * 32, device.device_id, NOW + 1000)
    assert await store.challenges.take_challenge(b"o" * 32, device.device_id, NOW)
    await store.challenges.add_challenge(b"p" * 32, device.device_id, NOW)
    assert await store.challenges.delete_expired_challenges(NOW) == 1


async def test_tokens(store: Storage) -> None:
    account, device = await _account(store, Role.CLIENT)
    record = TokenRecord(device.device_id, account.account_id, NOW + 10)
    await store.tokens.add_token(b"t" * 32, record)
    assert await store.tokens.get_token(b"t" * 32) == record
    assert await store.tokens.delete_token(b"t" * 32)
    assert await store.tokens.get_token(b"t" * 32) is None
    await store.tokens.add_token(b"u" * 32, record)
    assert await store.tokens.delete_expired_tokens(NOW + 10) == 1


async def test_terms_versions_and_consent_state(store: Storage) -> None:
    therapist, _ = await _account(store, Role.THERAPIST)
    client, c_dev = await _account(store, Role.CLIENT, therapist.account_id)
    state = await store.consent.get_consent_state(therapist.account_id, client.account_id)
    assert (state.current_version, state.accepted_version) == (0, 0)
    t1 = await store.consent.add_terms(therapist.account_id, "one", b"1" * 32, NOW)
    t2 = await store.consent.add_terms(therapist.account_id, "two", b"2" * 32, NOW + 1)
    assert (t1.version, t2.version) == (1, 2)
    assert await store.consent.get_terms(therapist.account_id) == t2
    consent = Consent(
        therapist.account_id, client.account_id, 1, b"1" * 32, NOW, b"s" * 64, c_dev.device_id, NOW
    )
    await store.consent.add_consent(consent)
    state = await store.consent.get_consent_state(therapist.account_id, client.account_id)
    assert (state.current_version, state.accepted_version) == (2, 1)
    assert await store.consent.get_consents_of(client.account_id) == [consent]
    assert await store.consent.get_consents_of(therapist.account_id) == [consent]


async def test_send_is_idempotent_and_streams_increase(store: Storage) -> None:
    therapist, t_dev = await _account(store, Role.THERAPIST)
    client, c_dev = await _account(store, Role.CLIENT, therapist.account_id)
    first = send(client.account_id, c_dev.device_id, therapist.account_id, [t_dev.device_id])
    out = await store.mailbox.add_send(first)
    again = await store.mailbox.add_send(first)
    assert not out.duplicate and again.duplicate and again.accepted_at == out.accepted_at
    assert await store.mailbox.get_send(c_dev.device_id, first.message_id) == again
    second = await store.mailbox.add_send(
        send(client.account_id, c_dev.device_id, therapist.account_id, [t_dev.device_id])
    )
    items = await store.mailbox.get_items(t_dev.device_id, 0, 10, NOW)
    assert [i.pos for i in items] == [out.positions[t_dev.device_id], second.positions[t_dev.device_id]]
    assert items[0].pos < items[1].pos
    assert items[0].ciphertext == first.envelopes[0].ciphertext
    assert await store.mailbox.get_items(t_dev.device_id, items[0].pos, 10, NOW) == items[1:]
    assert await store.mailbox.delete_items(t_dev.device_id, items[0].pos) == 1
    assert await store.mailbox.get_items(t_dev.device_id, 0, 10, NOW) == items[1:]


async def test_expired_items_are_hidden_then_swept(store: Storage) -> None:
    therapist, t_dev = await _account(store, Role.THERAPIST)
    client, c_dev = await _account(store, Role.CLIENT, therapist.account_id)
    s = send(client.account_id, c_dev.device_id, therapist.account_id, [t_dev.device_id], ttl_ms=100)
    await store.mailbox.add_send(s)
    assert await store.mailbox.get_items(t_dev.device_id, 0, 10, NOW + 100) == []
    assert await store.mailbox.delete_expired_items(NOW + 100) == 1
    assert await store.mailbox.get_send(c_dev.device_id, s.message_id) is None


async def test_a_failing_write_does_not_poison_concurrent_ones(store: Storage) -> None:
    # Many writes in flight at once land in the same group commit on SQLite; one refusal must stay alone.
    _, device = await _account(store, Role.CLIENT, prekeys=3)
    good = [
        store.prekeys.add_one_time_prekeys(device.device_id, [OneTimePrekey(100 + i, bytes(32))], 1000)
        for i in range(20)
    ]
    bad = store.prekeys.add_one_time_prekeys(device.device_id, [OneTimePrekey(1, bytes(32))], 1000)
    results = await asyncio.gather(*good, bad, return_exceptions=True)
    assert isinstance(results[-1], PrekeyIdConflict)
    assert not any(isinstance(r, BaseException) for r in results[:-1])
    assert await store.prekeys.count_one_time_prekeys(device.device_id) == 23


async def test_ping(store: Storage) -> None:
    await store.ping()


async def test_the_readiness_heartbeat_is_one_row_rewritten(store: Storage) -> None:
    for now in (1000, 2000, 2000):
        await store.put_heartbeat(now)
    # No store method reads the heartbeat back: look at the backend's own table / collection.
    if isinstance(store, SqliteStorage):
        rows = await store.engine.read(lambda conn: conn.execute("SELECT id, at FROM heartbeat").fetchall())
        assert rows == [(1, 2000)]
    else:
        assert isinstance(store, MongoStorage)
        docs = await store.engine["heartbeat"].find({}).to_list(None)
        assert docs == [{"_id": "readiness", "at": 2000}]


async def test_account_key_certificates_and_unclaimed_prekey_ids_round_trip(store: Storage) -> None:
    """Protocol version 2: the account key and each device's certificate are kept exactly as given."""
    code = new_id()
    await store.invitations.add_invitation(invitation(code, Role.THERAPIST, None))
    account_key, certificate = b"K" * 32, (7).to_bytes(8, "big") + b"S" * 64
    device = dataclasses.replace(new_device(4), certificate=certificate)
    account, _ = await store.accounts.add_account_from_invitation(
        code_hash=code_hash(code), account_id=new_id(), device=device, now=NOW, account_key=account_key
    )
    stored = await store.accounts.get_account(account.account_id)
    assert stored is not None and stored.account_key == account_key
    [listed] = await store.devices.get_devices([account.account_id])
    assert listed.certificate == certificate
    got = await store.devices.get_device(device.device_id)
    assert got is not None and got.certificate == certificate
    [bundle] = await store.prekeys.claim_bundles([device.device_id])
    assert bundle.certificate == certificate and bundle.one_time_prekey is not None
    assert await store.prekeys.get_one_time_prekey_ids(device.device_id) == [2, 3, 4]  # 1 was claimed
