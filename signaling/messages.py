"""Call signaling messages between two devices, and the channel Protocol that carries them.

Plaintext wire format (UTF-8 JSON; this is what gets sealed end to end, the server never sees it)::

    {"kind": "offer",     "sdp": "<SDP>", "ice_restart": false}
    {"kind": "answer",    "sdp": "<SDP>"}
    {"kind": "candidate", "candidate": "candidate:...", "sdp_mid": "0", "sdp_mline_index": 0}
    {"kind": "hangup"}

An offer while connected is a renegotiation (camera off/on, screen share). ``ice_restart`` marks an offer
made on a fresh ICE transport after the connection failed (browsers: ``restartIce()``; aiortc, which cannot
restart ICE in place: a new peer connection). ``hangup`` ends the call between the two devices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from signaling.limits import MAX_SIGNAL_BYTES

__all__ = [
    "MAX_SIGNAL_BYTES",
    "ChannelClosed",
    "SignalKind",
    "SignalMessage",
    "SignalRejected",
    "SignalingChannel",
]


class SignalKind(StrEnum):
    OFFER = "offer"
    ANSWER = "answer"
    CANDIDATE = "candidate"
    HANGUP = "hangup"


class SignalRejected(Exception):
    """A received signal failed a check (seal, sender identity, binding, sequence, format) and was dropped."""


class ChannelClosed(Exception):
    """The signaling channel is gone (left, removed, session ended, disconnected)."""


@dataclass(frozen=True, slots=True)
class SignalMessage:
    kind: SignalKind
    sdp: str | None = None
    ice_restart: bool = False
    candidate: str | None = None
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None

    def to_wire(self) -> bytes:
        body: dict[str, object] = {"kind": self.kind.value}
        if self.kind in (SignalKind.OFFER, SignalKind.ANSWER):
            body["sdp"] = self.sdp
        if self.kind is SignalKind.OFFER:
            body["ice_restart"] = self.ice_restart
        if self.kind is SignalKind.CANDIDATE:
            body.update(candidate=self.candidate, sdp_mid=self.sdp_mid, sdp_mline_index=self.sdp_mline_index)
        data = json.dumps(body, separators=(",", ":")).encode()
        if len(data) > MAX_SIGNAL_BYTES:
            raise ValueError(f"signal of {len(data)} bytes exceeds {MAX_SIGNAL_BYTES}")
        return data

    @classmethod
    def from_wire(cls, data: bytes) -> SignalMessage:
        if len(data) > MAX_SIGNAL_BYTES:
            raise SignalRejected("signal too large")
        try:
            body = json.loads(data)
            kind = SignalKind(body["kind"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SignalRejected("malformed signal") from exc
        if not isinstance(body, dict):
            raise SignalRejected("malformed signal")
        if kind in (SignalKind.OFFER, SignalKind.ANSWER):
            sdp = body.get("sdp")
            restart = body.get("ice_restart", False)
            if not isinstance(sdp, str) or not sdp.startswith("v=0") or not isinstance(restart, bool):
                raise SignalRejected("malformed SDP")
            return cls(kind, sdp=sdp, ice_restart=restart and kind is SignalKind.OFFER)
        if kind is SignalKind.CANDIDATE:
            cand, mid, index = body.get("candidate"), body.get("sdp_mid"), body.get("sdp_mline_index")
            if (
                not isinstance(cand, str)
                or not (mid is None or isinstance(mid, str))
                or not (index is None or isinstance(index, int))
            ):
                raise SignalRejected("malformed candidate")
            return cls(kind, candidate=cand, sdp_mid=mid, sdp_mline_index=index)
        return cls(kind)


class SignalingChannel(Protocol):
    """A bidirectional, ordered path for one pair of devices in one call.

    ``receive`` raises :class:`SignalRejected` for one bad message (the channel stays usable) and
    :class:`ChannelClosed` when no more messages will come.
    """

    async def send(self, message: SignalMessage) -> None: ...

    async def receive(self) -> SignalMessage: ...

    async def close(self) -> None: ...
