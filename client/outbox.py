"""The durable outbox of a device: every send is on disk, with its ciphertext, before it goes on the wire, and
is retried under its original message id until the server acknowledges or refuses it (docs/SDK.md "Sending").

Retry rule (the same in the browser, docs/PROTOCOL.md "Sending and retries"): transport failures and the
refusals in ``RETRYABLE`` are retried with capped, jittered back-off, resending the stored ciphertext byte for
byte (the server de-duplicates by id, so a send that was in fact stored is answered ``duplicate``); only
``device_set_mismatch`` re-encrypts, after refreshing the device sets; every other refusal is final.

Pipelining: up to ``window`` conversations (recipient accounts) send at once, each one request at a time,
so one conversation's messages are stored, and reach its devices, in the order they were written. A sender
encrypts up to ``AHEAD`` queued entries of its conversation together and writes them (entries, ciphertexts,
advanced sessions) in ONE durable commit, then posts them in ONE ``send_batch`` event (the server stores
them in order, in one commit, and stops at the first refusal): a queue costs one disk flush and one round
trip per batch, not one per message.

A contact whose account key changed and was not accepted is "blocked" (client/trust.py): its conversation
is not started, its entries wait on disk in order, and the others are not held up; a decision wakes it.

The outbox knows its device only through :class:`OutboxPort` (encrypt, post, react to a changed device set,
whether a contact is blocked, wait for the connection).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import random
from typing import Any, Protocol

from client._wire import new_id, now_ms
from client.errors import ApiError, ContactBlocked, KeyChanged, TransportError, UntrustedDevice
from client.keystore import Keystore, Table
from client.state import OutboxEntry
from crypto import CryptoError

__all__ = ["RETRYABLE", "Outbox", "OutboxPort"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
RETRYABLE = frozenset({"storage_unavailable", "rate_limited"})  # "not now", never "never"
MAX_DEVICE_SET_ROUNDS = 5  # a device set that changes more often than this during one send is not settling
BACKOFF_INITIAL, BACKOFF_MAX = 0.05, 2.0
DEFAULT_WINDOW = 8  # conversations sending at once
AHEAD = 32  # entries of one conversation encrypted and written together; bounds the receiver's skipped keys
# when a changed device set makes them encrypt again


class OutboxPort(Protocol):
    """What the outbox needs from its device."""

    async def encrypt_send(self, entry: OutboxEntry) -> JSON:
        """The send body for ``entry`` (one envelope per device); advanced sessions are staged."""
        ...

    async def post_send(self, body: JSON) -> JSON:
        """Post one send: the server's ``{id, accepted_at, duplicate}``, or ApiError / TransportError."""
        ...

    async def post_batch(self, bodies: list[JSON]) -> list[JSON]:
        """Post several sends in one event: one ``{ok, result | error}`` per send, in order, ending at the
        first refusal; ApiError / TransportError when the batch as a whole was not taken."""
        ...

    async def device_set_changed(self, details: JSON) -> None:
        """Drop sessions of ``extra`` / ``stale`` devices and refresh the device sets."""
        ...

    def blocked(self, to_account: str) -> bool:
        """True while the contact's changed account key waits for the person's decision."""
        ...

    async def wait_online(self, timeout: float) -> None:
        """Sleep up to ``timeout``; return early when a lost connection comes back."""
        ...


class Outbox:
    def __init__(
        self,
        entries: Table[OutboxEntry],
        keystore: Keystore,
        port: OutboxPort,
        *,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        self._entries = entries
        self._keystore = keystore
        self._port = port
        self.window = max(1, window)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._results: dict[str, asyncio.Future[JSON]] = {}
        self._in_flight: dict[str, asyncio.Task[None]] = {}  # conversation -> its sender task
        self._rounds: dict[str, int] = {}  # message id -> device_set_mismatch answers so far
        self._queues: dict[str, collections.deque[str]] = {}  # conversation -> its message ids, in order
        for entry in entries.values():
            self._queues.setdefault(entry.to_account, collections.deque()).append(entry.id)

    def __len__(self) -> int:
        return len(self._entries)

    def add(
        self, to_account: str, plaintext_b64: str, message_id: str | None = None, *, track: bool = True
    ) -> str:
        """Stage a new entry and return its id; it is written (with its ciphertext) before it is sent.
        ``track=False`` (delivery receipts): nobody awaits ``result``; a refusal is only logged."""
        entry = OutboxEntry(
            id=message_id or new_id(), to_account=to_account, plaintext=plaintext_b64, created_at=now_ms()
        )
        self._entries[entry.id] = entry
        self._queues.setdefault(to_account, collections.deque()).append(entry.id)
        if track:
            self._results[entry.id] = asyncio.get_running_loop().create_future()
        self.wake()
        return entry.id

    def result(self, message_id: str) -> asyncio.Future[JSON]:
        """Resolves to the server's ``{id, accepted_at, duplicate}``, or fails with the refusal."""
        return self._results[message_id]

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def flush(self, timeout: float) -> None:
        if self._entries:
            self.wake()
            await asyncio.wait_for(self._idle.wait(), timeout)

    def abandon(self) -> None:
        """The device is closing: waiters fail, entries stay on disk for the next open."""
        for task in self._in_flight.values():
            task.cancel()
        self._in_flight.clear()
        for fut in self._results.values():
            if not fut.done():
                fut.set_exception(TransportError("device closed"))
        self._results.clear()

    async def run(self) -> None:
        """Start one sender per conversation with queued entries, up to ``window`` at a time."""
        try:
            while True:
                sendable = [a for a in self._queues if not self._port.blocked(a)]
                for to_account in sendable:
                    if len(self._in_flight) >= self.window:
                        break
                    if to_account not in self._in_flight:
                        task = asyncio.create_task(self._conversation(to_account), name="confidant-outbox")
                        self._in_flight[to_account] = task
                if not sendable and not self._in_flight:  # empty, or only blocked contacts' entries wait
                    self._idle.set()
                self._wake.clear()
                await self._wake.wait()
        finally:
            for task in self._in_flight.values():
                task.cancel()

    async def _conversation(self, to_account: str) -> None:
        """Send one conversation's entries in order, one request at a time. Up to ``AHEAD`` entries are
        encrypted together and written in one durable commit before the first of them is posted."""
        try:
            queue = self._queues[to_account]
            while True:
                while queue and queue[0] not in self._entries:
                    queue.popleft()
                if not queue:
                    del self._queues[to_account]
                    return
                batch = [self._entries[i] for i in itertools.islice(queue, AHEAD) if i in self._entries]
                try:
                    await self._encrypt(batch)
                except ContactBlocked:
                    return  # the key changed meanwhile: the entries wait for the person's decision
                await self._post_batch(batch)
        finally:
            self._in_flight.pop(to_account, None)
            self.wake()

    async def _encrypt(self, batch: list[OutboxEntry]) -> None:
        """Encrypt what has no ciphertext yet and write it all in one durable commit."""
        delay = BACKOFF_INITIAL
        for entry in batch:
            while entry.body is None and entry.id in self._entries:
                try:
                    entry.body = await self._port.encrypt_send(entry)
                    self._entries[entry.id] = entry  # stages the ciphertext with the entry
                except ContactBlocked:
                    await self._keystore.commit()  # what was encrypted before stays written
                    raise
                except (KeyChanged, UntrustedDevice, CryptoError) as exc:  # e.g. a bad bundle: refused
                    self._finish(entry, exc)
                except ApiError as exc:
                    if exc.code not in RETRYABLE:
                        self._finish(entry, exc)
                        continue
                    await self._port.wait_online(_jitter(delay))
                    delay = min(BACKOFF_MAX, delay * 2)
                except TransportError:  # e.g. the bundle fetch failed
                    await self._port.wait_online(_jitter(delay))
                    delay = min(BACKOFF_MAX, delay * 2)
        await self._keystore.commit()  # entries, ciphertexts and advanced sessions: one durable write

    async def _post_batch(self, batch: list[OutboxEntry]) -> None:
        """Post the encrypted entries in ONE event (the server stores them in order, in one commit, and
        answers each, stopping at the first refusal); what the batch did not settle goes through ``_post``
        one by one, with its retry rules. A changed device set clears the ciphertexts from there on."""
        entries = [e for e in batch if e.id in self._entries and e.body is not None]
        if len(entries) > 1:
            try:
                answers = await self._port.post_batch([e.body for e in entries if e.body is not None])
            except (ApiError, TransportError):
                answers = []  # e.g. offline: each entry is posted, and retried, on its own below
            for entry, answer in zip(entries, answers, strict=False):
                if not answer.get("ok"):
                    break  # the sends after a refusal were not looked at
                self._finish(entry, answer.get("result") or {})
        for index, entry in enumerate(entries):
            if entry.id in self._entries and not await self._post(entry):
                for later in entries[index:]:  # the device set changed: encrypt the rest again
                    later.body = None
                return

    async def _post(self, entry: OutboxEntry) -> bool:
        """Post until acknowledged or refused (both finish the entry); False on ``device_set_mismatch``."""
        delay = BACKOFF_INITIAL
        while entry.id in self._entries and entry.body is not None:
            try:
                result = await self._port.post_send(entry.body)
            except ApiError as exc:
                if exc.code == "device_set_mismatch":
                    self._rounds[entry.id] = self._rounds.get(entry.id, 0) + 1
                    if self._rounds[entry.id] > MAX_DEVICE_SET_ROUNDS:
                        self._finish(entry, ApiError(exc.code, "The device set kept changing; giving up."))
                        return True
                    await self._port.device_set_changed(exc.details)
                    return False
                if exc.code not in RETRYABLE:
                    self._finish(entry, exc)
                    return True
                retry_after = exc.details.get("retry_after_seconds")
                await self._port.wait_online(_jitter(float(retry_after) if retry_after else delay))
                delay = min(BACKOFF_MAX, delay * 2)
                continue
            except TransportError:
                await self._port.wait_online(_jitter(delay))
                delay = min(BACKOFF_MAX, delay * 2)
                continue
            self._finish(entry, result)
        return True

    def _finish(self, entry: OutboxEntry, outcome: JSON | Exception) -> None:
        self._rounds.pop(entry.id, None)
        with contextlib.suppress(KeyError):
            del self._entries[entry.id]
        # the removal may be lost in a crash: the entry is then resent and answered ``duplicate``
        self._keystore.commit_soon()
        fut = self._results.pop(entry.id, None)
        if fut is not None and not fut.done():
            if isinstance(outcome, Exception):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)
        elif isinstance(outcome, Exception):
            log.warning("queued send %s refused: %s", entry.id, outcome.__class__.__name__)


def _jitter(delay: float) -> float:
    return delay * (0.5 + random.random())
