"""Audio-only fallback for SDK calls, by the same rules as the browser (web-client/src/app/fallback.js).

When video cannot flow between two people, both stop sending video to each other and say so in a sealed
control message on the call channel; the audio goes on::

    {"kind": "audio_only", "on": true | false, "reason": "no_video" | "low_bandwidth" | "chosen" | null}

``on`` is this side's own wish for the pair; the pair is audio only while either side wishes it. This SDK
detects ``no_video`` (connected, the peer says its camera is on, audio frames arrive, but no new video frame
was decoded for ``STALL_S``, ``START_S`` before the first one) and honours every reason a browser sends; it
does not measure its own send bandwidth (aiortc exposes no estimate), so never raises ``low_bandwidth``.
``call.audio_only(True)`` is the person's choice. An automatic fallback tries video again after
``RETRY_S``, doubling up to ``RETRY_MAX_S`` while it keeps failing; ``call.audio_only(False)`` tries at once.

Stopping video is :meth:`signaling.peer.CallPeer.set_camera` (the sender's track replaced by none: no video
RTP), combined with the person's own camera switch (``Call.set_media``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from signaling.messages import ChannelClosed
from signaling.peer import CallPeer

__all__ = [
    "REASONS",
    "RETRY_MAX_S",
    "RETRY_S",
    "STALL_S",
    "START_S",
    "AudioOnlyFallback",
    "PairState",
    "audio_only_message",
    "remote_reason",
]

log = logging.getLogger(__name__)

STALL_S = 8.0  # long enough that a busy device (a CPU burst) is not taken for a broken path
START_S = 15.0  # before a connection's first video frame (a slow start on a loaded machine)
RETRY_S = 30.0
RETRY_MAX_S = 240.0
REASONS = ("no_video", "low_bandwidth", "chosen")


def audio_only_message(reason: str | None) -> dict[str, object]:
    """This side's wish for a pair, as sent (tests/vectors/call_control.json pins the bytes)."""
    return {"kind": "audio_only", "on": reason is not None, "reason": reason}


def remote_reason(body: Mapping[str, object]) -> str | None:
    """The peer's wish from its message: its reason, ``no_video`` for one this SDK does not know, or None."""
    if not body.get("on"):
        return None
    reason = body.get("reason")
    return str(reason) if reason in REASONS else "no_video"


@dataclass
class PairState:
    """One pair's fallback: this side's reason, the peer's, and what the detector last saw."""

    local: str | None = None
    remote: str | None = None
    video_frames: int = -1
    audio_frames: int = 0
    since: float | None = None
    flowing: float = 0.0
    retry_at: float = 0.0
    backoff: float = RETRY_S
    applied_to: CallPeer | None = None  # the peer connection the pair's state was last applied to

    @property
    def off(self) -> bool:
        return bool(self.local or self.remote)


class AudioOnlyFallback:
    """The fallback of one ``Call``: ``peers`` and ``peer_media`` are its live maps (by peer handle)."""

    def __init__(
        self,
        peers: Mapping[str, CallPeer],
        peer_media: Mapping[str, Mapping[str, bool]],
        send: Callable[[str, dict[str, object]], Awaitable[None]],
    ) -> None:
        self._peers = peers
        self._media = peer_media
        self._send = send
        self.pairs: dict[str, PairState] = {}
        self.camera = True  # the person's own camera switch (Call.set_media)
        self.chosen = False
        self._task: asyncio.Task[None] | None = None

    def pair(self, handle: str) -> PairState:
        if handle not in self.pairs:
            self.pairs[handle] = PairState(local="chosen" if self.chosen else None)
        return self.pairs[handle]

    @property
    def active(self) -> bool:
        """Whether this side holds any pair in audio only (by choice or because video could not flow)."""
        return self.chosen or any(p.local for p in self.pairs.values())

    # -- the person -----------------------------------------------------------------------------------
    async def choose(self, on: bool) -> None:
        """Audio only with everyone (True), or video again (False; retries an automatic fallback at once)."""
        self.chosen = on
        for handle in list(self._peers):
            state = self.pair(handle)
            if not on:
                state.backoff = RETRY_S
            await self._set_local(handle, "chosen" if on else None)

    # -- the peer -------------------------------------------------------------------------------------
    async def on_message(self, handle: str, body: Mapping[str, object]) -> None:
        remote = remote_reason(body)
        state = self.pair(handle)
        if state.remote != remote:
            state.remote, state.since = remote, None
            await self.apply(handle)

    async def connected(self, handle: str) -> None:
        """A (new) peer connection with ``handle``: the sender follows the pair, the peer hears our wish."""
        await self.apply(handle)
        if self.pair(handle).local:
            await self._tell(handle)

    async def apply(self, handle: str) -> None:
        peer = self._peers.get(handle)
        if peer is not None:
            with contextlib.suppress(RuntimeError):  # a peer that sends no video
                await peer.set_camera(self.camera and not self.pair(handle).off)

    # -- the detector ---------------------------------------------------------------------------------
    async def observe(self, handle: str, now: float | None = None) -> None:
        """One sample of the pair (``watch`` calls it every second): detect, retry."""
        peer = self._peers.get(handle)
        if peer is None:
            return
        now = time.monotonic() if now is None else now
        stats = peer.stats()
        state = self.pair(handle)
        audio = stats.frames_received.get("audio", 0)
        audio_flows = audio > state.audio_frames
        state.audio_frames = audio
        if stats.connection_state != "connected":
            state.since = None
            return
        if state.applied_to is not peer:  # a new peer connection with the same person
            state.applied_to = peer
            await self.connected(handle)
        if state.local and state.local != "chosen" and now >= state.retry_at:
            state.backoff = min(state.backoff * 2, RETRY_MAX_S)  # if it fails again, wait longer
            await self._set_local(handle, None)
        if state.off or not self._media.get(handle, {}).get("video", True):
            state.since = None  # nothing to measure: no video is meant to arrive
            return
        video = stats.frames_received.get("video", 0)
        if state.since is None:
            state.flowing = now
        if state.since is None or video != state.video_frames:
            state.since, state.video_frames = now, video
        elif audio_flows and now - state.since >= (START_S if video == 0 else STALL_S):
            state.retry_at = now + state.backoff
            await self._set_local(handle, "no_video")
        elif now - state.flowing > RETRY_MAX_S:
            state.backoff = RETRY_S  # video has flowed for a while: forgive

    def watch(self, period: float = 1.0) -> None:
        """Sample every pair every ``period`` seconds until :meth:`stop` (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(period), name="audio-only-fallback")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self, period: float) -> None:
        while True:
            for handle in list(self._peers):
                try:
                    await self.observe(handle)
                except ChannelClosed:
                    log.debug("audio-only fallback: the channel to %s closed", handle)
            await asyncio.sleep(period)  # a sampling period, as getStats polling in the browser

    async def _set_local(self, handle: str, reason: str | None) -> None:
        state = self.pair(handle)
        if state.local == reason:
            return
        state.local, state.since = reason, None
        await self._tell(handle)
        await self.apply(handle)

    async def _tell(self, handle: str) -> None:
        local = self.pair(handle).local
        with contextlib.suppress(ChannelClosed):
            await self._send(handle, audio_only_message(local))
