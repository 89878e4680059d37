"""The durable outbox of a device: every send is on disk before it goes on the wire, and is retried under
its original message id until the server acknowledges or refuses it (docs/SDK.md "Sending").

One worker sends entries strictly in order, so one device's messages arrive in the order they were written.
The encrypted body is saved with the entry and resent byte-identical (the server de-duplicates by id);
only a ``device_set_mismatch`` makes it refresh the device sets and encrypt again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import TYPE_CHECKING, Any

from client._keys import bundle_from_wire
from client._wire import b64d, b64e, new_id, now_ms
from client.errors import ApiError, ContactBlocked, TransportError, UntrustedDevice
from client.keystore import OutboxEntry
from crypto import CryptoError

if TYPE_CHECKING:
    from client.device import Device

__all__ = ["Outbox"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
RETRYABLE = frozenset({"storage_unavailable", "rate_limited"})
MAX_DEVICE_SET_ROUNDS = 5  # a device set that changes more often than this during one send is not settling
BACKOFF_INITIAL, BACKOFF_MAX = 0.05, 2.0


class Outbox:
    def __init__(self, device: Device) -> None:
        self._d = device
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._results: dict[str, asyncio.Future[JSON]] = {}

    def add(self, to_account: str, plaintext_b64: str, message_id: str | None = None) -> str:
        """Save a new entry and return its message id; the worker picks it up."""
        entry = OutboxEntry(
            id=message_id or new_id(), to_account=to_account, plaintext=plaintext_b64, created_at=now_ms()
        )
        self._d.state.outbox.append(entry)
        self._d.save()
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
        if self._d.state.outbox:
            self.wake()
            await asyncio.wait_for(self._idle.wait(), timeout)

    def abandon(self) -> None:
        """The device is closing: waiters fail, entries stay on disk for the next open."""
        for fut in self._results.values():
            if not fut.done():
                fut.set_exception(TransportError("device closed"))
        self._results.clear()

    def _next(self) -> OutboxEntry | None:
        """The oldest entry to a contact that is not blocked: a changed account key holds back only the
        messages to that contact (in order), never the others."""
        trust = self._d.trust
        for entry in self._d.state.outbox:
            if not trust.is_blocked(entry.to_account):
                return entry
        return None

    async def run(self) -> None:
        delay = BACKOFF_INITIAL
        while True:
            entry = self._next()
            if entry is None:
                self._idle.set()
                await self._wake.wait()
                self._wake.clear()
                continue
            try:
                result = await self._deliver(entry)
            except (TransportError, ApiError) as exc:
                retry_after = None
                if isinstance(exc, ApiError):
                    if exc.code not in RETRYABLE:
                        self._finish(entry, exc)
                        continue
                    retry_after = exc.details.get("retry_after_seconds")
                await self._wait_retry(float(retry_after) if retry_after else delay)
                delay = min(BACKOFF_MAX, delay * 2)
                continue
            except ContactBlocked:
                continue  # the key changed while encrypting: the entry waits for the person's decision
            except (UntrustedDevice, CryptoError) as exc:  # e.g. a bundle with a bad signature: refused
                self._finish(entry, exc)
                continue
            delay = BACKOFF_INITIAL
            self._finish(entry, result)

    def _finish(self, entry: OutboxEntry, outcome: JSON | Exception) -> None:
        with contextlib.suppress(ValueError):
            self._d.state.outbox.remove(entry)
        self._d.save()
        fut = self._results.pop(entry.id, None)
        if fut is not None and not fut.done():
            if isinstance(outcome, Exception):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)
        elif isinstance(outcome, Exception):
            log.warning("queued send %s refused: %s", entry.id, outcome.__class__.__name__)

    async def _wait_retry(self, delay: float) -> None:
        # jittered backoff; while disconnected it ends early when the realtime connection comes back
        delay *= 0.5 + random.random()
        connected = self._d.realtime.connected
        if connected.is_set():
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connected.wait(), delay)

    async def _deliver(self, entry: OutboxEntry) -> JSON:
        for _ in range(MAX_DEVICE_SET_ROUNDS):
            if entry.body is None:
                async with self._d.lock:
                    entry.body = await self._encrypt(entry)
                    self._d.save()
            try:
                return await self._post(entry.body)
            except ApiError as err:
                if err.code != "device_set_mismatch":
                    raise
                await self._fix_device_sets(err.details)
                entry.body = None
        raise ApiError("device_set_mismatch", "The device set kept changing; giving up this send.")

    async def _post(self, body: JSON) -> JSON:
        realtime = self._d.realtime
        if realtime.connected.is_set():
            try:
                return await realtime.call("send", body)
            except ApiError as err:
                if err.code != "unauthenticated":
                    raise
            except TransportError:
                pass
        return await self._d.api.send(body)

    async def _encrypt(self, entry: OutboxEntry) -> JSON:
        """Encrypt for every current device of the recipient and our other devices (device lock held)."""
        d = self._d
        if entry.to_account not in d.state.device_sets:
            d.lock.release()
            try:
                await d.contacts()
            finally:
                await d.lock.acquire()
        if d.trust.is_blocked(entry.to_account):
            raise ContactBlocked(entry.to_account)  # nothing is encrypted to a key the person did not accept
        targets = [(entry.to_account, dev) for dev in d.state.device_sets.get(entry.to_account, [])]
        targets += [
            (d.account_id, dev) for dev in d.state.device_sets.get(d.account_id, []) if dev != d.device_id
        ]
        for account, device in targets:
            if not d.book.has_session(device):
                # device_sets holds certified devices only; start() checks the bundle's key is certified
                d.book.start(account, device, bundle_from_wire(await d.api.device_bundle(device)))
        plaintext = b64d(entry.plaintext)
        envelopes = []
        for _, device in targets:
            kind, wire = d.book.encrypt(device, plaintext)
            envelopes.append({"v": 1, "to_device": device, "type": kind, "ciphertext": b64e(wire)})
        return {"id": entry.id, "to_account": entry.to_account, "envelopes": envelopes}

    async def _fix_device_sets(self, details: JSON) -> None:
        d = self._d
        async with d.lock:
            for device in [*details.get("extra", []), *details.get("stale", [])]:
                d.book.drop(str(device))
            d.save()
        await d.contacts()
        await d.refresh_devices()
        log.info(
            "device set of a send changed (missing %d, extra %d, stale %d)",
            len(details.get("missing", [])),
            len(details.get("extra", [])),
            len(details.get("stale", [])),
        )
