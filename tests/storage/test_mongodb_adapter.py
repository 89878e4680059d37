"""MongoDB-adapter behaviour beyond the shared contract, on the in-process test double (``mongo-double``):
what the no-transaction strategy promises (docs/SCALE.md) and how an unreachable server is reported."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import DuplicateKeyError

from storage.errors import StorageUnavailable
from storage.mongodb import MongoStorage
from storage.records import NewDevice, NewEnvelope, NewSend, Role, SignedPrekey
from tests.fixtures.mongo_double import MongoClientDouble
from tests.storage.contract import NOW, code_hash, invitation, new_device, new_id, send


@pytest.fixture
async def double() -> MongoClientDouble:
    return MongoClientDouble()


@pytest.fixture
async def store(double: MongoClientDouble) -> MongoStorage:
    storage = await MongoStorage.open("mongodb://mongo-double", client=double)
    assert not storage.transactions  # the double is a standalone server: the fallback path is under test
    return storage


async def test_unreachable_server_is_storage_unavailable_and_stores_nothing(
    store: MongoStorage, double: MongoClientDouble
) -> None:
    s = send(new_id(), new_id(), new_id(), ["d" * 32])
    double.set_unavailable(True)
    with pytest.raises(StorageUnavailable):
        await store.mailbox.add_send(s)
    with pytest.raises(StorageUnavailable):
        await store.ping()
    double.set_unavailable(False)
    assert await store.mailbox.get_items("d" * 32, 0, 10, NOW) == []
    assert await store.mailbox.get_send(s.from_device, s.message_id) is None


async def test_concurrent_sends_to_one_device_get_distinct_positions_visible_in_order(
    store: MongoStorage,
) -> None:
    device = "d" * 32
    sends = [send(new_id(), new_id(), new_id(), [device]) for _ in range(40)]
    outcomes = await asyncio.gather(*(store.mailbox.add_send(s) for s in sends))
    positions = [o.positions[device] for o in outcomes]
    assert len(set(positions)) == 40
    items = await store.mailbox.get_items(device, 0, 100, NOW)
    assert [i.pos for i in items] == sorted(positions)


async def test_positions_never_reused_after_acknowledgement(store: MongoStorage) -> None:
    device = "d" * 32
    first = await store.mailbox.add_send(send(new_id(), new_id(), new_id(), [device]))
    assert await store.mailbox.delete_items(device, first.positions[device]) == 1
    second = await store.mailbox.add_send(send(new_id(), new_id(), new_id(), [device]))
    assert second.positions[device] > first.positions[device]


async def test_retry_completes_a_half_stored_send_without_duplicates(store: MongoStorage) -> None:
    # A crash after the first envelope (no transaction): the retry stores the rest, the first only once.
    s = send(new_id(), new_id(), new_id(), ["a" * 32, "b" * 32])
    half = NewSend(
        s.message_id, s.from_account, s.from_device, s.to_account, s.envelopes[:1], s.sent_at, s.expires_at
    )
    await store.mailbox.add_send(half)
    await store.engine["sends"].update_one(
        {"from_device": s.from_device, "message_id": s.message_id}, {"$set": {"state": "pending"}}
    )
    assert await store.mailbox.get_send(s.from_device, s.message_id) is None  # not acknowledged yet
    retried = await store.mailbox.add_send(s)
    assert not retried.duplicate and set(retried.positions) == {"a" * 32, "b" * 32}
    assert len(await store.mailbox.get_items("a" * 32, 0, 10, NOW)) == 1
    assert len(await store.mailbox.get_items("b" * 32, 0, 10, NOW)) == 1
    assert (await store.mailbox.add_send(s)).duplicate


async def test_indexes_are_created_idempotently(double: MongoClientDouble) -> None:
    first = await MongoStorage.open("mongodb://mongo-double", client=double)
    second = await MongoStorage.open("mongodb://mongo-double", client=double)
    info = await second.engine["mailbox"].index_information()
    assert any(v.get("unique") and v["key"] == [("device_id", 1), ("pos", 1)] for v in info.values())
    assert any("expireAfterSeconds" in v for v in info.values())
    del first


async def test_a_server_down_at_boot_is_retried_on_the_next_request(double: MongoClientDouble) -> None:
    double.set_unavailable(True)
    store = MongoStorage.connect("mongodb://mongo-double", client=double)  # no I/O: the node still starts
    with pytest.raises(StorageUnavailable):
        await store.ping()
    double.set_unavailable(False)
    await store.ping()
    out = await store.mailbox.add_send(
        NewSend(
            new_id(), new_id(), new_id(), new_id(), (NewEnvelope("d" * 32, "message", b"x"),), NOW, NOW + 1000
        )
    )
    assert out.positions == {"d" * 32: 1}


@pytest.mark.parametrize("transactions", [True, False], ids=["transaction", "undone-by-hand"])
async def test_a_failed_redemption_leaves_nothing_and_the_code_usable(transactions: bool) -> None:
    # A failing step (here a device id that already exists) leaves the invitation usable and no account
    # behind: rolled back by the (emulated) transaction, or undone step by step without one.
    client = MongoClientDouble(transactions=transactions)
    store = await MongoStorage.open("mongodb://mongo-double", client=client)
    assert store.transactions is transactions
    first = await _redeem(store, "code-1", new_device())
    await store.invitations.add_invitation(invitation("code-2", Role.THERAPIST))
    clash = NewDevice(first.device_id, b"k" * 32, SignedPrekey(1, b"p" * 32, b"s" * 64), ())
    with pytest.raises(DuplicateKeyError):
        await store.accounts.add_account_from_invitation(
            code_hash=code_hash("code-2"), account_id=new_id(), device=clash, now=NOW
        )
    assert await store.accounts.count_accounts() == 1
    await _redeem(store, "code-2", new_device(), add=False)  # still usable
    assert await store.accounts.count_accounts() == 2


async def _redeem(store: MongoStorage, code: str, device: NewDevice, add: bool = True) -> NewDevice:
    if add:
        await store.invitations.add_invitation(invitation(code, Role.THERAPIST))
    await store.accounts.add_account_from_invitation(
        code_hash=code_hash(code), account_id=new_id(), device=device, now=NOW
    )
    return device
