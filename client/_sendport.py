"""The outbox's view of its device (client/outbox.py ``OutboxPort``): encrypt a send, post it, react to a
changed device set, wait for the connection. The outbox sees nothing else of the device."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from client._keys import bundle_from_wire
from client._wire import b64d, b64e
from client.errors import ApiError, ContactBlocked, TransportError
from client.state import OutboxEntry

if TYPE_CHECKING:
    from client.device import Device

__all__ = ["DeviceSendPort"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]


class DeviceSendPort:
    def __init__(self, device: Device) -> None:
        self._d = device

    async def encrypt_send(self, entry: OutboxEntry) -> JSON:
        """Encrypt for every current device of the recipient and our other devices (sessions staged)."""
        d = self._d
        async with d.lock:
            if entry.to_account not in d.state.device_sets:
                d.lock.release()
                try:
                    await d.contacts()
                finally:
                    await d.lock.acquire()
            if d.trust.is_blocked(entry.to_account):
                # Nothing is encrypted to a key the person did not accept.
                raise ContactBlocked(entry.to_account)
            sets = d.state.device_sets  # certified devices only; start() checks a bundle's key is certified
            targets = [(entry.to_account, dev) for dev in sets.get(entry.to_account, [])]
            own = [dev for dev in sets.get(d.account_id, []) if dev != d.device_id]
            targets += [(d.account_id, dev) for dev in own]
            for account, device in targets:
                if not d.book.has_session(device):
                    d.book.start(account, device, bundle_from_wire(await d.api.device_bundle(device)))
            plaintext = b64d(entry.plaintext)
            envelopes = []
            for _, device in targets:
                kind, wire = d.book.encrypt(device, plaintext)
                envelopes.append({"v": 1, "to_device": device, "type": kind, "ciphertext": b64e(wire)})
        return {"id": entry.id, "to_account": entry.to_account, "envelopes": envelopes}

    async def post_send(self, body: JSON) -> JSON:
        d = self._d
        if d.realtime.connected.is_set():
            try:
                return await d.realtime.call("send", body)
            except ApiError as err:
                if err.code != "unauthenticated":
                    raise
            except TransportError:
                pass
        return await d.api.send(body)

    async def post_batch(self, bodies: list[JSON]) -> list[JSON]:
        d = self._d
        if not d.realtime.connected.is_set():
            raise TransportError("not connected")  # the outbox posts each one (over HTTP) instead
        result = await d.realtime.call("send_batch", {"sends": bodies})
        answers = result.get("results")
        if not isinstance(answers, list):
            raise ApiError("internal", "send_batch answered without results")
        return [a if isinstance(a, dict) else {"ok": False} for a in answers]

    async def device_set_changed(self, details: JSON) -> None:
        d = self._d
        async with d.lock:
            for device in [*details.get("extra", []), *details.get("stale", [])]:
                d.book.drop(str(device))
        await d.contacts()
        await d.refresh_devices()
        log.info(
            "device set of a send changed (missing %d, extra %d, stale %d)",
            len(details.get("missing", [])),
            len(details.get("extra", [])),
            len(details.get("stale", [])),
        )

    def blocked(self, to_account: str) -> bool:
        return self._d.trust.is_blocked(to_account)

    async def wait_online(self, timeout: float) -> None:
        d = self._d
        connected = d.realtime.connected
        if connected.is_set():
            await asyncio.sleep(timeout)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connected.wait(), timeout)

