"""Prekey upkeep of one device (docs/PROTOCOL.md section 19): top-ups, weekly signed-prekey rotation with
a grace period, and expiry of claimed-but-unused one-time prekey secrets.

The replaced signed prekey's secret is kept ``SIGNED_PREKEY_GRACE_SECONDS`` (longer than the mailbox TTL),
then deleted together with the replay-cache entries of the session starts that used it: from then on a
replay of those starts fails with ``UnknownPreKey``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from client._keys import otk_wire, spk_wire
from client._wire import b64d, b64e, now_ms
from crypto import ReplayCache, SignedPreKeyPair, generate_one_time_prekeys
from crypto.limits import (
    CLAIMED_PREKEY_GRACE_SECONDS,
    PREKEY_BATCH_SIZE,
    SIGNED_PREKEY_GRACE_SECONDS,
    SIGNED_PREKEY_ROTATION_SECONDS,
)

if TYPE_CHECKING:
    from client.device import Device

__all__ = ["INITIAL_PREKEYS", "PrekeyUpkeep"]

INITIAL_PREKEYS = 100


class PrekeyUpkeep:
    def __init__(self, device: Device) -> None:
        self._d = device
        self._replenish_lock = asyncio.Lock()

    async def replenish(self, target: int = INITIAL_PREKEYS) -> int:
        """Upload fresh one-time prekeys up to ``target`` stored on the server; secrets are saved first.
        One top-up at a time: a burst of ``prekeys_low`` notices must not upload several batches."""
        d = self._d
        async with self._replenish_lock:
            count = await d.api.prekey_count()
            needed = max(0, target - count)
            uploaded = 0
            while needed > 0:
                batch = min(needed, PREKEY_BATCH_SIZE)
                async with d.lock:
                    keys = generate_one_time_prekeys(d.state.next_prekey_id, batch)
                    d.state.next_prekey_id += batch
                    for k in keys:
                        d.state.one_time_prekeys[str(k.key_id)] = b64e(k.to_bytes())
                    await d.save()
                await d.api.add_one_time_prekeys([otk_wire(k) for k in keys])
                needed -= batch
                uploaded += batch
            return uploaded

    async def rotate_signed_prekey(self, *, now: int | None = None, force: bool = False) -> bool:
        """A new signed prekey when the current one is a week old (or ``force``); True if rotated."""
        d = self._d
        now = now_ms() if now is None else now
        current = str(d.state.current_signed_prekey)
        created = d.state.signed_prekey_created.setdefault(current, now)
        if not force and now - created < 1000 * SIGNED_PREKEY_ROTATION_SECONDS:
            return False
        async with d.lock:
            new_id = max(int(k) for k in d.state.signed_prekeys) + 1
            spk = SignedPreKeyPair.generate(d.identity, new_id)
            d.state.signed_prekeys[str(new_id)] = b64e(spk.to_bytes())
            d.state.signed_prekey_created[str(new_id)] = now
            await d.save()  # the secret is on disk before the server can hand the public part out
        await d.api.put_signed_prekey(spk_wire(spk))
        async with d.lock:
            d.state.current_signed_prekey = new_id
            d.state.signed_prekey_retired[current] = now
            await d.save()
        return True

    async def delete_expired(self, *, now: int | None = None) -> list[int]:
        """Delete signed prekeys past their grace period, and their replay entries; returns their ids."""
        d = self._d
        now = now_ms() if now is None else now
        gone = [
            int(k)
            for k, retired in d.state.signed_prekey_retired.items()
            if now - retired >= 1000 * SIGNED_PREKEY_GRACE_SECONDS
        ]
        if not gone:
            return []
        cache = ReplayCache.from_bytes(b64d(d.state.replay_cache)) if d.state.replay_cache else ReplayCache()
        for key_id in gone:
            d.state.signed_prekeys.pop(str(key_id), None)
            d.state.signed_prekey_retired.pop(str(key_id), None)
            d.state.signed_prekey_created.pop(str(key_id), None)
            cache.forget_signed_prekey(key_id)
        d.state.replay_cache = b64e(cache.to_bytes())
        await d.save()
        return gone

    async def expire_claimed_prekeys(self, *, now: int | None = None) -> list[int]:
        """Forget secrets of one-time prekeys claimed long ago and never used; returns their ids."""
        d = self._d
        now = now_ms() if now is None else now
        on_server = set(await d.api.one_time_prekey_ids())
        expired = []
        async with d.lock:
            for key in list(d.state.one_time_prekeys):
                if int(key) in on_server:
                    d.state.claimed_prekeys.pop(key, None)
                    continue
                first_seen = d.state.claimed_prekeys.setdefault(key, now)
                if now - first_seen >= 1000 * CLAIMED_PREKEY_GRACE_SECONDS:
                    del d.state.one_time_prekeys[key]
                    del d.state.claimed_prekeys[key]
                    expired.append(int(key))
            await d.save()
        return expired

    async def run_once(self, *, now: int | None = None) -> None:
        """At start and daily: rotate, delete what outlived its grace, expire claimed secrets."""
        await self.rotate_signed_prekey(now=now)
        async with self._d.lock:
            await self.delete_expired(now=now)
        await self.expire_claimed_prekeys(now=now)
