"""An exact in-process cache of the facts that authorize a send (``storage.send_facts.SendFacts``).

Why it is exact. The entry of a send from account A to account B depends only on rows keyed by A or B: their
devices, their accounts' disabled flags, the link between them, the therapist's terms and the pair's
consents. Every service write that can change one of those rows (a device added or revoked, an account
created, disabled or enabled, terms published, a consent accepted) goes through ``after_commit``, which
drops every entry of the accounts it touched once the write committed and before the writing call returns: a
send that starts after that call returned reads the database again, so it covers the recipient's current
devices and a revoked device or a disabled account is refused at once. A miss whose read raced such a write
must not store what it read before the commit: every invalidation bumps ``generation`` and a miss stores its
answer only if none happened since its read was issued; an answer stored between the commit and the
invalidation is dropped by that invalidation. A bearer token's revocation needs nothing here: tokens are
checked when a connection or a request authenticates, never from this cache.

Why only on a single node. Writes made by another node are invisible to this process. Propagating
invalidations through the broker would need a per-send generation check against Redis, a network round trip
costing about what the cached reads cost, so the cache is enabled only when this process is the only one
serving the database: embedded SQLite with the in-process broker (the default deployment). With MongoDB or a
Redis broker every send reads its facts, still in one storage call. The operator CLI opens the same SQLite
file from another process but only creates and revokes invitations, which no entry depends on; any future
out-of-process write of devices, accounts, links, terms or consents must go through the running server (or
this cache must learn of it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from storage.send_facts import SendFacts, SendFactsStore

__all__ = ["AuthzCache"]

T = TypeVar("T")

_MAX_ENTRIES = 25_000  # sender->recipient pairs at ~1.5 KB each (~40 MB); cleared, not evicted, when full

_Key = tuple[str, str, tuple[str, str] | None]  # sender, recipient, (therapist, client) of their link


class AuthzCache:
    def __init__(self, store: SendFactsStore, *, enabled: bool, max_entries: int = _MAX_ENTRIES) -> None:
        self._store = store
        self.enabled = enabled
        self._max_entries = max_entries
        self._entries: dict[_Key, SendFacts] = {}
        self._keys_of: dict[str, set[_Key]] = {}  # account id -> the keys of entries that depend on it
        self.generation = 0
        self._listeners: list[Callable[..., None]] = []

    def __len__(self) -> int:
        return len(self._entries)

    async def get_send_facts(
        self, sender_id: str, recipient_id: str, pair: tuple[str, str] | None
    ) -> SendFacts:
        if not self.enabled:
            return await self._store.get_send_facts(sender_id, recipient_id, pair)
        key = (sender_id, recipient_id, pair)
        facts = self._entries.get(key)
        if facts is not None:
            return facts
        generation = self.generation
        facts = await self._store.get_send_facts(sender_id, recipient_id, pair)
        # Unlinked pairs are not kept: they are refused anyway, and guessed ids must not fill the cache.
        if generation == self.generation and (facts.pair is None or facts.pair.linked):
            self._put(key, facts)
        return facts

    def _put(self, key: _Key, facts: SendFacts) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
            self._keys_of.clear()
        self._entries[key] = facts
        for account_id in (key[0], key[1]):
            self._keys_of.setdefault(account_id, set()).add(key)

    def on_invalidate(self, listener: Callable[..., None]) -> None:
        """Also tell ``listener(*account_ids)`` (the mailbox tail cache depends on the same writes)."""
        self._listeners.append(listener)

    def invalidate(self, *account_ids: str) -> None:
        """Forget every entry that depends on these accounts (call only after the write committed)."""
        self.generation += 1
        for listener in self._listeners:
            listener(*account_ids)
        for account_id in account_ids:
            for key in self._keys_of.pop(account_id, ()):
                self._entries.pop(key, None)
                other = key[1] if key[0] == account_id else key[0]
                keys = self._keys_of.get(other)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._keys_of[other]

    async def after_commit(self, write: Awaitable[T], affected: Callable[[T], Iterable[str]]) -> T:
        """Await a storage write that may change some accounts' facts, then invalidate ``affected(result)``.

        The invalidation runs when the write completes, before the caller resumes, and also when the caller
        was cancelled meanwhile (a queued write still commits, so it must still invalidate): the write runs
        as its own task, shielded from the caller's cancellation. A failed write stored nothing; it still
        bumps the generation, which costs at most one refill.
        """
        if not self.enabled:
            return await write
        task = asyncio.ensure_future(write)

        def done(finished: asyncio.Future[T]) -> None:
            if finished.cancelled() or finished.exception() is not None:  # retrieved: the caller may be gone
                self.invalidate()
            else:
                self.invalidate(*affected(finished.result()))

        task.add_done_callback(done)
        return await asyncio.shield(task)
