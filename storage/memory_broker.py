"""In-process Broker: correct for one node (the embedded default), shares nothing across processes."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["MemoryBroker"]

MAX_KEYS = 100_000  # bounds memory under a key-spraying attacker; expired entries are pruned first


class MemoryBroker:
    """Fixed-window rate limits, presence and state with expiry, all in dictionaries.

    ``clock`` returns seconds (monotonic); tests inject their own.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._presence: dict[str, tuple[str, float]] = {}
        self._state: dict[str, tuple[bytes, float]] = {}

    async def ping(self) -> None:
        return None

    async def hit(self, key: str, limit: int, window_seconds: float) -> float | None:
        now = self._clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window_seconds:
            start, count = now, 0
        if count >= limit:
            return max(math.ceil(start + window_seconds - now), 1)
        if len(self._windows) >= MAX_KEYS:
            self._prune_windows(now, window_seconds)
        self._windows[key] = (start, count + 1)
        return None

    def _prune_windows(self, now: float, window_seconds: float) -> None:
        for key in [k for k, (start, _) in self._windows.items() if now - start >= window_seconds]:
            del self._windows[key]

    async def set_presence(self, device_id: str, node_id: str, ttl_seconds: float) -> None:
        self._presence[device_id] = (node_id, self._clock() + ttl_seconds)

    async def clear_presence(self, device_id: str, node_id: str) -> None:
        held = self._presence.get(device_id)
        if held is not None and held[0] == node_id:
            del self._presence[device_id]

    async def get_presence(self, device_id: str) -> str | None:
        held = self._presence.get(device_id)
        if held is None or held[1] <= self._clock():
            return None
        return held[0]

    async def put_state(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._state[key] = (value, self._clock() + ttl_seconds)

    async def get_state(self, key: str) -> bytes | None:
        held = self._state.get(key)
        if held is None or held[1] <= self._clock():
            return None
        return held[0]

    async def delete_state(self, key: str) -> bool:
        return self._state.pop(key, None) is not None

    async def close(self) -> None:
        self._windows.clear()
        self._presence.clear()
        self._state.clear()
