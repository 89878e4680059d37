"""The device's inbox: messages written a slice at a time are handed over in order, each once, only once
durable, resume where the application stopped after a reopen, and the seen-id window stays bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path

from client._wire import b64e
from client.inbox import Inbox
from client.keystore import Keystore
from client.state import MAX_SEEN_IDS, DeviceState, StoredMessage

PEER = "9" * 32


def message(n: int) -> StoredMessage:
    return StoredMessage(f"{n:032x}", "b" * 32, PEER, n, 7, b64e(f"secret {n}".encode()))


def keep(inbox: Inbox, first: int, count: int) -> None:
    for n in range(first, first + count):
        m = message(n)
        inbox.add(f"{m.from_account}:{m.id}", m)
    inbox.stage()


async def reopen(ks: Keystore, path: Path) -> tuple[Keystore, Inbox]:
    await ks.close()
    ks = await asyncio.to_thread(Keystore.open, path, "pass phrase")
    return ks, Inbox(DeviceState(ks))


async def test_slices_are_handed_over_in_order_once_durable_and_resume_after_reopening(
    tmp_path: Path,
) -> None:
    path = tmp_path / "device.keystore"
    ks = await asyncio.to_thread(Keystore.create, path, "pass phrase", kdf="fast")
    state = DeviceState(ks)
    state.inbox["legacy"] = message(0)  # one row per message, as an earlier version wrote it
    await ks.commit()
    inbox = Inbox(state)
    keep(inbox, 1, 25)
    keep(inbox, 26, 10)
    assert inbox.take(ks.durable_seq) == ("legacy", message(0)), "an earlier version's rows go first"
    assert inbox.take(ks.durable_seq) is None, "staged, not yet on disk: never handed over"
    await ks.commit()
    taken = [inbox.take(ks.durable_seq) for _ in range(30)]
    assert [t[1].pos for t in taken if t] == list(range(1, 31))
    await ks.commit(durable=False)  # what messages() does in the background

    ks, inbox = await reopen(ks, path)
    assert len(inbox) == 5, "taken messages stay taken after a reopen"
    rest = [inbox.take(ks.durable_seq) for _ in range(6)]
    assert [t[1].pos for t in rest if t] == [31, 32, 33, 34, 35] and rest[-1] is None
    assert inbox.seen(f"{'b' * 32}:{message(3).id}"), "ids of taken messages are still seen"
    keep(inbox, 3, 1)
    assert len(inbox) == 0, "a message seen before is not kept again"
    await ks.close()


async def test_the_seen_window_stays_bounded_in_whole_slices(tmp_path: Path) -> None:
    path = tmp_path / "device.keystore"
    ks = await asyncio.to_thread(Keystore.create, path, "pass phrase", kdf="fast")
    state = DeviceState(ks)
    state.seen["old"] = 1  # an earlier version's single id: evicted first
    inbox = Inbox(state)
    for first in range(0, MAX_SEEN_IDS + 100, 25):
        keep(inbox, first, 25)
    await ks.commit()
    assert not inbox.seen("old") and "old" not in state.seen
    assert not inbox.seen(f"{'b' * 32}:{message(0).id}")
    ks, inbox = await reopen(ks, path)
    ids = [i for s in DeviceState(ks).seen_slices.values() for i in s]
    assert MAX_SEEN_IDS <= len(ids) < MAX_SEEN_IDS + 25
    assert inbox.seen(f"{'b' * 32}:{message(MAX_SEEN_IDS + 99).id}")
    await ks.close()
