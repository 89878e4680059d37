"""An in-process signaling channel pair: the baseline with no server in the path (tests, benchmarks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from signaling.messages import ChannelClosed, SignalMessage

__all__ = ["LoopbackChannel", "channel_pair"]

Transform = Callable[[bytes], bytes]
_CLOSED = b""


class LoopbackChannel:
    """One end. Messages cross as wire bytes, so an optional ``transform`` can play a hostile relay."""

    def __init__(self, inbox: asyncio.Queue[bytes], transform: Transform | None) -> None:
        self._inbox = inbox
        self._transform = transform
        self.peer: LoopbackChannel | None = None
        self.closed = False

    async def send(self, message: SignalMessage) -> None:
        if self.closed or self.peer is None or self.peer.closed:
            raise ChannelClosed("loopback channel closed")
        data = message.to_wire()
        if self._transform is not None:
            data = self._transform(data)
        self.peer._inbox.put_nowait(data)

    async def receive(self) -> SignalMessage:
        if self.closed:
            raise ChannelClosed("loopback channel closed")
        data = await self._inbox.get()
        if data == _CLOSED:
            self.closed = True
            raise ChannelClosed("loopback channel closed")
        return SignalMessage.from_wire(data)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._inbox.put_nowait(_CLOSED)
            if self.peer is not None and not self.peer.closed:
                self.peer._inbox.put_nowait(_CLOSED)


def channel_pair(
    a_to_b: Transform | None = None, b_to_a: Transform | None = None
) -> tuple[LoopbackChannel, LoopbackChannel]:
    a = LoopbackChannel(asyncio.Queue(), a_to_b)
    b = LoopbackChannel(asyncio.Queue(), b_to_a)
    a.peer, b.peer = b, a
    return a, b
