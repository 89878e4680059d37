"""The Broker: state that every node of a deployment must share, but that need not be durable.

Presence (which node holds a device's live connection), rate-limit buckets, and ephemeral room
state (video-call waiting rooms). The in-process adapter is ``storage.memory_broker``; a Redis adapter
implements the same Protocol for scale-out. Fan-out of live pushes is NOT here: it goes through
python-socketio's client manager (``AsyncManager`` / ``AsyncRedisManager``).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Broker"]


class Broker(Protocol):
    async def ping(self) -> None:
        """Raise if the broker cannot be reached (readiness)."""
        ...

    async def hit(self, key: str, limit: int, window_seconds: float) -> float | None:
        """Count one event against ``key``: None if within ``limit`` per window,
        else the seconds until the caller may retry."""
        ...

    async def set_presence(self, device_id: str, node_id: str, ttl_seconds: float) -> None: ...

    async def clear_presence(self, device_id: str, node_id: str) -> None:
        """Forget the device's presence if it is still held by this node."""
        ...

    async def get_presence(self, device_id: str) -> str | None:
        """The node holding the device's connection, or None if offline / expired."""
        ...

    async def put_state(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    async def get_state(self, key: str) -> bytes | None: ...

    async def delete_state(self, key: str) -> bool: ...

    async def close(self) -> None: ...
