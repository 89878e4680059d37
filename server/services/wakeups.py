"""Live wake-ups after a durable send: never awaited by the send, coalesced per device, each emit bounded.

A send is acknowledged once it is committed (``MailboxService.send``); the ``inbox`` wake-up (``{"pos": N}``,
the device's newest stream position, no ciphertext, no sender) is queued here and emitted by a background
worker. A slow or hung broker therefore delays wake-ups, never acknowledgements. Pending wake-ups are kept as
one position per device (the newest), so memory is bounded by the number of devices, not by the send rate;
a wake-up that cannot be emitted within ``EMIT_TIMEOUT_S`` is dropped: the device pulls on its next wake-up,
its node's "pull now" ticks while pub/sub is unhealthy, or its own idle poll (docs/SCALE.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from server.services.notify import Notifier
from server.wire.responses import InboxEvent

__all__ = ["WakeUps"]

log = logging.getLogger(__name__)

EMIT_TIMEOUT_S = 1.0  # a healthy broker publishes in well under a millisecond
CONCURRENT_EMITS = 32  # emits in flight at once; a hung broker holds at most this many for EMIT_TIMEOUT_S
LOG_EVERY_S = 30.0  # at most one "wake-ups dropped" line per interval


class WakeUps:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier
        self._pending: OrderedDict[str, int] = OrderedDict()
        self._ready = asyncio.Event()
        self._dropped = 0
        self._logged_at = 0.0

    def wake(self, device_id: str, pos: int) -> None:
        """Queue a wake-up for ``device_id`` (returns at once)."""
        if pos > self._pending.get(device_id, 0):
            self._pending[device_id] = pos
        self._ready.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        """The worker: a background task of the app (started with it, cancelled at shutdown)."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._pending:
                batch: list[tuple[str, int]] = []
                while self._pending and len(batch) < CONCURRENT_EMITS:
                    batch.append(self._pending.popitem(last=False))
                if len(batch) == 1:  # the common case at low rates: no task and no extra loop iteration
                    self._note_failures(0 if await self._emit_one(*batch[0]) else 1)
                    continue
                results = await asyncio.gather(*(self._emit(d, p) for d, p in batch), return_exceptions=True)
                self._note_failures(sum(1 for r in results if r is not None))

    async def _emit_one(self, device_id: str, pos: int) -> bool:
        try:
            await self._emit(device_id, pos)
        except Exception:  # as gather(return_exceptions=True) counts it: a dropped wake-up
            return False
        return True

    async def _emit(self, device_id: str, pos: int) -> None:
        # asyncio.timeout, not wait_for: the same bound without a task per wake-up (wait_for's was ~10 % of
        # the server's samples at a paced 1,000 messages/s).
        async with asyncio.timeout(EMIT_TIMEOUT_S):
            await self._notifier.to_device(device_id, "inbox", InboxEvent(pos))

    def _note_failures(self, failed: int) -> None:
        if not failed:
            return
        self._dropped += failed
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            log.warning("live wake-ups dropped (broker slow or down); devices pull instead",
                        extra={"dropped": self._dropped})
            self._logged_at, self._dropped = now, 0
