"""How services reach connected devices, without knowing socket.io.

``server.realtime.SocketNotifier`` implements this with the socket.io client manager: rooms
``device:<device_id>`` and ``account:<account_id>``, so that a Redis manager fans out across nodes.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

__all__ = ["Notifier"]


class Notifier(Protocol):
    async def to_device(self, device_id: str, event: str, payload: msgspec.Struct) -> None: ...

    async def to_account(self, account_id: str, event: str, payload: msgspec.Struct) -> None: ...

    async def disconnect_device(self, device_id: str) -> None:
        """Close the device's live connections (it was revoked)."""
        ...

    async def disconnect_token(self, token_hash: bytes) -> None:
        """Close the live connections authenticated with this token (it was revoked)."""
        ...
