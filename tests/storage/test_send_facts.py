"""The facts of a send: each adapter's ``send_facts`` store answers exactly what the ordinary store reads
answer, on every adapter and in every state that changes a send's authorization."""

from __future__ import annotations

from storage.protocols import Storage
from storage.records import Consent, ConsentState, Role
from storage.send_facts import ComposedSendFactsStore, PairFacts, SendFacts
from tests.storage.contract import NOW, add_account, code_hash, new_device, new_id


async def _both(store: Storage, sender: str, recipient: str, pair: tuple[str, str] | None) -> SendFacts:
    single = await store.send_facts.get_send_facts(sender, recipient, pair)
    composed = ComposedSendFactsStore(store.accounts, store.links, store.consent, store.devices)
    assert single == await composed.get_send_facts(sender, recipient, pair)
    return single


async def test_facts_follow_every_change_that_authorizes_a_send(store: Storage) -> None:
    therapist, t_device = await add_account(store, Role.THERAPIST)
    client, c_device = await add_account(store, Role.CLIENT, therapist.account_id)
    t, c = therapist.account_id, client.account_id

    facts = await _both(store, c, t, (t, c))
    assert facts == SendFacts(
        True,
        frozenset({t_device.device_id, c_device.device_id}),
        frozenset(),
        PairFacts(True, True, ConsentState(0, 0)),
    )

    terms = await store.consent.add_terms(t, "v1", b"h" * 32, NOW)
    await store.consent.add_consent(
        Consent(t, c, terms.version, b"h" * 32, NOW, b"s" * 64, c_device.device_id, NOW)
    )
    await store.consent.add_terms(t, "v2", b"i" * 32, NOW)
    assert (await _both(store, t, c, (t, c))).pair == PairFacts(True, True, ConsentState(2, 1))

    code = new_id()
    await store.devices.add_link_code(code_hash(code), t, NOW + 60_000)
    extra = await store.devices.add_device_with_link_code(
        code_hash=code_hash(code), device=new_device(), max_devices=10, now=NOW
    )
    assert await store.devices.revoke_device(t_device.device_id, NOW)
    facts = await _both(store, c, t, (t, c))
    assert facts.active_devices == {extra.device_id, c_device.device_id}
    assert facts.revoked_devices == {t_device.device_id}

    assert await store.accounts.set_account_disabled(t, True)
    assert not (await _both(store, t, c, (t, c))).sender_enabled
    assert not (await _both(store, c, t, (t, c))).pair.recipient_enabled  # type: ignore[union-attr]

    own = await _both(store, c, c, None)
    assert own == SendFacts(True, frozenset({c_device.device_id}), frozenset(), None)


async def test_unlinked_and_unknown_accounts(store: Storage) -> None:
    therapist, _ = await add_account(store, Role.THERAPIST)
    stranger, s_device = await add_account(store, Role.CLIENT)  # invited by the operator: no link
    t, s = therapist.account_id, stranger.account_id
    assert (await _both(store, s, t, (t, s))).pair == PairFacts(False, True, ConsentState(0, 0))
    unknown = new_id()
    facts = await _both(store, s, unknown, (unknown, s))
    assert facts.pair == PairFacts(False, False, ConsentState(0, 0))
    assert facts.active_devices == {s_device.device_id}
    assert not (await _both(store, unknown, unknown, None)).sender_enabled
