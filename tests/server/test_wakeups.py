"""Wake-ups (server/services/wakeups.py): a failing or hung emit drops that wake-up, not the later ones."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import pytest

from server.services import wakeups as wakeups_module
from server.services.wakeups import WakeUps


class _Notifier:
    """Records wake-ups; the device "stuck" hangs, the device "broken" raises (a broker slow or down)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []
        self.changed = asyncio.Event()

    async def to_device(self, device_id: str, event: str, payload: msgspec.Struct) -> None:
        if device_id == "stuck":
            await asyncio.Event().wait()
        if device_id == "broken":
            raise ConnectionError("broker down")
        self.got.append((device_id, msgspec.to_builtins(payload)["pos"]))
        self.changed.set()

    async def to_account(self, account_id: str, event: str, payload: msgspec.Struct) -> None:
        raise NotImplementedError

    async def disconnect_device(self, device_id: str) -> None:
        raise NotImplementedError

    async def disconnect_token(self, token_hash: bytes) -> None:
        raise NotImplementedError


async def _until(notifier: _Notifier, wanted: list[tuple[str, int]]) -> None:
    async with asyncio.timeout(5):
        while notifier.got != wanted:
            notifier.changed.clear()
            await notifier.changed.wait()


async def test_a_failed_or_hung_wake_up_does_not_hold_back_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wakeups_module, "EMIT_TIMEOUT_S", 0.05)
    notifier = _Notifier()
    wakeups = WakeUps(notifier)
    worker = asyncio.ensure_future(wakeups.run())
    try:
        for device in ("broken", "stuck"):  # one at a time: the single-emit path
            wakeups.wake(device, 1)
            await asyncio.sleep(0)  # the worker takes it alone
            wakeups.wake("ok", 2 if device == "stuck" else 1)
            await _until(notifier, [("ok", 1)] if device == "broken" else [("ok", 1), ("ok", 2)])
        wakeups.wake("broken", 3)  # several at once: the concurrent path
        wakeups.wake("a", 3)
        wakeups.wake("b", 4)
        await _until(notifier, [("ok", 1), ("ok", 2), ("a", 3), ("b", 4)])
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
