"""The mailbox tail cache (server/services/mailbox_cache.py): pulls from memory equal the database's."""

from __future__ import annotations

import base64

from server.services.mailbox_cache import MAX_ITEMS_PER_DEVICE, MailboxTailCache
from storage.records import MailboxItem
from tests.server._kit import API
from tests.server.conftest import Server


def _item(pos: int, sender: str = "a1", expires_at: int = 10_000) -> MailboxItem:
    return MailboxItem(pos, f"{pos:032x}", sender, "d1", "message", b"x" * 10, 1, expires_at)


def test_an_entry_is_created_only_from_a_complete_untouched_read() -> None:
    cache = MailboxTailCache(enabled=True)
    cache.reading("dev")
    cache.appended("dev", _item(7))  # committed while the read was in flight: it may be missing from it
    cache.read("dev", "acct", 0, 101, [_item(5)])
    assert cache.get("dev", 0, 100, now=0) is None
    cache.reading("dev")
    cache.read("dev", "acct", 0, 3, [_item(5), _item(6), _item(7)])  # a full page: more may follow
    assert cache.get("dev", 0, 100, now=0) is None
    cache.reading("dev")
    cache.read("dev", "acct", 0, 101, [_item(5), _item(7)])
    cache.appended("dev", _item(7))  # the same item, read and then appended: held once
    cache.appended("dev", _item(9))
    assert [i.pos for i in cache.get("dev", 0, 100, now=0) or []] == [5, 7, 9]
    assert [i.pos for i in cache.get("dev", 5, 1, now=0) or []] == [7]
    assert [i.pos for i in cache.get("dev", 0, 100, now=10_000) or []] == []  # expired, as the database


def test_acknowledgement_raises_the_floor_and_invalidation_drops_senders_items() -> None:
    cache = MailboxTailCache(enabled=True)
    cache.reading("dev")
    cache.read("dev", "acct", 0, 101, [])
    cache.appended("dev", _item(3, sender="a1"))
    cache.appended("dev", _item(4, sender="a2"))
    cache.acknowledged("dev", 3)
    assert cache.get("dev", 0, 100, now=0) is None  # below the floor: the database answers
    assert [i.pos for i in cache.get("dev", 3, 100, now=0) or []] == [4]
    cache.invalidate("a2")  # e.g. the sender's account was erased
    assert cache.get("dev", 3, 100, now=0) is None


def test_a_device_far_behind_keeps_only_its_newest_items() -> None:
    cache = MailboxTailCache(enabled=True)
    cache.reading("dev")
    cache.read("dev", "acct", 0, 101, [])
    for pos in range(1, MAX_ITEMS_PER_DEVICE + 11):
        cache.appended("dev", _item(pos))
    assert cache.get("dev", 5, 100, now=0) is None
    newest = cache.get("dev", 10, 1000, now=0) or []
    assert [i.pos for i in newest] == list(range(11, MAX_ITEMS_PER_DEVICE + 11))


async def test_pulls_answered_from_the_cache_equal_the_database(server: Server) -> None:
    admin = await server.admin()
    therapist, client = await server.pair()
    receiver = await therapist.connect()
    assert (await receiver.call("sync", {"after": 0}))["result"]["envelopes"] == []  # creates the entry
    sender = await client.connect()
    bodies = [client.send_body(therapist.account_id, [therapist.device_id]) for _ in range(4)]
    await sender.call("send_batch", {"sends": bodies})
    assert len(server.ctx.services.mailbox._tail) == 1  # the pulls below are answered from it
    stored = await server.ctx.storage.mailbox.get_items(therapist.device_id, 0, 100, 0)
    for after in (0, stored[1].pos):
        page = (await receiver.call("sync", {"after": after}))["result"]["envelopes"]
        assert [(e["pos"], e["id"], e["ciphertext"]) for e in page] == [
            (i.pos, i.message_id, base64.b64encode(i.ciphertext).decode())
            for i in stored
            if i.pos > after
        ]
    # The sender's account is erased: its envelopes leave the receiver's stream, and its pulls show that.
    assert (await admin.call("DELETE", f"{API}/admin/accounts/{client.account_id}")).status < 300
    assert (await receiver.call("sync", {"after": 0}))["result"]["envelopes"] == []
