"""An exact in-process copy of the newest part of each recently pulling device's mailbox stream.

Why: with wake-up pushes every delivery is a ``sync``, and a ``sync`` read from SQLite costs a hop to a reader
thread and back (each hop waiting for the GIL under load). The items a device is about to pull are the ones
this process has just committed, so the pull is served on the event loop from what the sends stored.

What an entry is. For a device, a ``floor`` position and EVERY unacknowledged item of that device's stream
above it, in position order, each with its expiry. A pull with ``after >= floor`` is answered from the entry
(expired items filtered as the database does); any other pull reads the database.

Why it is exact. Items enter a device's stream only through ``MailboxStore.add_send``; the mailbox service
appends each committed item here from ``add_send``'s ``on_commit``, which SQLite runs on the event loop as
soon as the loop learns of the commit, in commit order (= stream position order), whether or not the sender
still waits (storage/sqlite/_engine.py). So an entry never has a gap: an item committed and not yet appended
is newer than everything the entry holds, and a pull answered meanwhile simply does not have it yet (its
wake-up comes after the append). A failed write committed nothing. Items leave the stream through
``delete_items`` (an acknowledgement: the entry drops them and raises its floor), expiry (filtered on read;
deleting expired rows changes no answer), and the writes that go through ``AuthzCache.after_commit`` (a device
revoked, an account erased or disabled, a link ended): each such invalidation drops the entries of the
accounts it names and of every device holding an item from them. An entry is created from a complete database
read (fewer items than asked for), and only if nothing touched that device while the read was in flight: a
send that committed during the read may or may not be in it. An append at or below the newest item held is one
the read already had (otherwise the entry is dropped).

Why only on a single node: like the authorization cache (server/services/authz_cache.py), it needs this
process to be the database's only writer; with Redis or MongoDB it is off and every pull reads.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass, field

from storage.records import MailboxItem

__all__ = ["MailboxTailCache"]

MAX_ITEMS_PER_DEVICE = 512  # a device this far behind drains from the database (the floor rises instead)
MAX_BYTES = 64 * 1024 * 1024  # ciphertext held in all entries; the least recently pulling devices go first


@dataclass
class _Entry:
    account_id: str
    floor: int
    items: list[MailboxItem] = field(default_factory=list)
    size: int = 0


class MailboxTailCache:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # device id -> entry, least recent first
        self._bytes = 0
        self._loading: dict[str, list[int]] = {}  # device id -> [reads in flight, touched meanwhile]

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, device_id: str, after: int, limit: int, now: int) -> list[MailboxItem] | None:
        """Up to ``limit`` unexpired items after ``after``, or None when the entry cannot answer."""
        entry = self._entries.get(device_id)
        if entry is None or after < entry.floor:
            return None
        self._entries.move_to_end(device_id)
        start = bisect.bisect_right(entry.items, after, key=lambda i: i.pos)
        out: list[MailboxItem] = []
        for item in entry.items[start:]:
            if item.expires_at > now:
                out.append(item)
                if len(out) == limit:
                    break
        return out

    def reading(self, device_id: str) -> None:
        """A database read for this device is starting (pair with ``read``)."""
        if self.enabled and device_id not in self._entries:
            self._loading.setdefault(device_id, [0, 0])[0] += 1

    def read(
        self, device_id: str, account_id: str, after: int, limit: int, items: list[MailboxItem] | None
    ) -> None:
        """The read started with ``reading`` returned ``items`` (at most ``limit``; None: it failed or was
        cancelled): keep them if they are exact."""
        loading = self._loading.get(device_id)
        if loading is None:
            return
        loading[0] -= 1
        untouched = not loading[1]
        if loading[0] == 0:
            del self._loading[device_id]
        complete = items is not None and len(items) < limit and all(i.expires_at for i in items)
        if untouched and complete and items is not None and device_id not in self._entries:
            entry = _Entry(account_id, after)
            self._entries[device_id] = entry
            for item in items:
                self._add(entry, item)
            self._bound(entry)

    def appended(self, device_id: str, item: MailboxItem) -> None:
        """``item`` was committed to ``device_id``'s stream."""
        entry = self._entries.get(device_id)
        if entry is None:
            self._touch(device_id)
            return
        if entry.items and item.pos <= entry.items[-1].pos:  # already read from the database
            if any(i.pos == item.pos for i in entry.items):
                return
            self.drop(device_id)  # out of order cannot happen (appends are in commit order); never guess
            return
        self._add(entry, item)
        self._bound(entry)

    def acknowledged(self, device_id: str, up_to: int) -> None:
        """Items up to ``up_to`` are being deleted (called before the delete commits)."""
        entry = self._entries.get(device_id)
        if entry is None:
            self._touch(device_id)
            return
        cut = bisect.bisect_right(entry.items, up_to, key=lambda i: i.pos)
        for item in entry.items[:cut]:
            entry.size -= len(item.ciphertext)
            self._bytes -= len(item.ciphertext)
        del entry.items[:cut]
        entry.floor = max(entry.floor, up_to)

    def invalidate(self, *account_ids: str) -> None:
        """Drop what depends on these accounts (devices revoked, accounts erased, links ended)."""
        for loading in self._loading.values():
            loading[1] = 1
        if not account_ids:
            return
        accounts = set(account_ids)
        for device_id, entry in list(self._entries.items()):
            if entry.account_id in accounts or any(i.from_account in accounts for i in entry.items):
                self.drop(device_id)

    def drop(self, device_id: str) -> None:
        entry = self._entries.pop(device_id, None)
        if entry is not None:
            self._bytes -= entry.size

    def _touch(self, device_id: str) -> None:
        loading = self._loading.get(device_id)
        if loading is not None:
            loading[1] = 1

    def _add(self, entry: _Entry, item: MailboxItem) -> None:
        entry.items.append(item)
        entry.size += len(item.ciphertext)
        self._bytes += len(item.ciphertext)

    def _bound(self, entry: _Entry) -> None:
        excess = len(entry.items) - MAX_ITEMS_PER_DEVICE
        if excess > 0:  # the floor rises past the oldest: pulls from below it read the database
            for item in entry.items[:excess]:
                entry.size -= len(item.ciphertext)
                self._bytes -= len(item.ciphertext)
            entry.floor = entry.items[excess - 1].pos
            del entry.items[:excess]
        while self._bytes > MAX_BYTES and self._entries:
            device_id = next(iter(self._entries))
            self.drop(device_id)
