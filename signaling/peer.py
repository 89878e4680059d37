"""An aiortc call peer with a synthetic camera and microphone, driven over any :class:`SignalingChannel`.

It places or answers one call, counts decoded frames per received track, and reports timings and the
ICE path (getStats-like), so tests, benchmarks and ``confidant probe`` can assert what a user would see:
"I see and hear the other side", "the call went through the relay", "the tampered offer was refused".

aiortc gathers all candidates before ``setLocalDescription`` returns, so its offers and answers carry every
candidate (no trickle from this side); trickled candidates from browsers are applied as they arrive.
aiortc cannot restart ICE in place: :meth:`CallPeer.restart_ice` and an incoming ``ice_restart`` offer both
replace the peer connection, keeping the tracks and counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from signaling.media import SyntheticAudioTrack, SyntheticVideoTrack
from signaling.messages import ChannelClosed, SignalingChannel, SignalKind, SignalMessage, SignalRejected

__all__ = ["CallPeer", "NoRelayCandidates", "PeerStats"]

logger = logging.getLogger(__name__)


class NoRelayCandidates(RuntimeError):
    """A relay-only peer got no relay address: TURN refused the credentials or is unreachable.

    aiortc itself fails silently in that case (no candidates, state stays "new"); this makes it loud.
    """


@dataclass(frozen=True, slots=True)
class PeerStats:
    """A snapshot. Times are seconds since the peer started (``call`` or the first offer received)."""

    connection_state: str
    connected_after: float | None
    first_frame_after: dict[str, float]  # kind -> seconds
    frames_received: dict[str, int]  # kind -> decoded frames, all tracks of that kind
    frames_by_track: dict[str, int]  # "<kind>:<n>" in arrival order -> decoded frames
    local_candidate_types: tuple[str, ...]  # as offered in our last local description
    selected_local_type: str | None  # candidate type of the nominated pair: host / srflx / relay
    selected_remote_type: str | None
    rejected_signals: int
    restarts: int
    ended: bool
    failure: str | None  # why the call could not proceed (e.g. no relay address)


@dataclass
class _Counters:
    started: float = field(default_factory=time.perf_counter)
    connected_at: float | None = None
    first_frame: dict[str, float] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    by_track: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    restarts: int = 0


class CallPeer:
    def __init__(
        self,
        channel: SignalingChannel,
        *,
        ice_servers: Sequence[RTCIceServer] = (),
        relay_only: bool = False,
        audio: bool = True,
        video: bool = True,
        video_size: tuple[int, int] = (160, 120),
        name: str = "peer",
    ) -> None:
        self.name = name
        self._channel = channel
        # Always an explicit configuration: aiortc's default adds a public STUN server.
        self._relay_only = relay_only
        self._config = RTCConfiguration(
            iceServers=list(ice_servers),
            iceTransportPolicy=RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL,
        )
        self._video_size = video_size
        self._clock = time.time()  # every camera track of this peer counts its timestamps from here
        # What we send, by kind; tracks are recreated with each peer connection (aiortc stops a sender's
        # track when the sender stops).
        self._sources: list[str] = [k for k, on in (("audio", audio), ("video", video)) if on]
        self._tracks: list[MediaStreamTrack] = [self._make_track(k) for k in self._sources]
        self._c = _Counters()
        self._pc = self._new_pc()
        self._receiver_tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self._ended = asyncio.Event()
        self.last_rejection: str | None = None
        self.failure: Exception | None = None

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start handling incoming signals (both sides call this; the caller then calls :meth:`call`)."""
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._receive_loop(), name=f"{self.name}-signals")

    async def call(self) -> None:
        """Place the call: offer with our tracks."""
        self.start()
        self._c.started = time.perf_counter()
        await self._send_offer(ice_restart=False)

    async def hang_up(self) -> None:
        """Tell the other side, then stop everything."""
        if not self._ended.is_set():
            with contextlib.suppress(ChannelClosed):
                await self._channel.send(SignalMessage(SignalKind.HANGUP))
        await self.close()

    async def close(self) -> None:
        self._ended.set()
        await self._pc.close()
        for track in self._tracks:
            track.stop()
        await self._channel.close()
        tasks = [*self._receiver_tasks, *([self._loop_task] if self._loop_task else [])]
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not current), return_exceptions=True)
        await self._notify()

    # -- in-call actions ------------------------------------------------------------------------------
    async def set_camera(self, on: bool) -> None:
        """Camera off/on without renegotiation: the video sender stops/resumes sending frames."""
        sender = self._video_sender()
        old = sender.track
        if on and old is None:
            camera = self._make_track("video")
            self._tracks[self._sources.index("video")] = camera
            sender.replaceTrack(camera)
        elif not on and old is not None:
            sender.replaceTrack(None)
            old.stop()

    async def share_screen(self) -> None:
        """Add a second video track (the "screen") and renegotiate with a new offer."""
        self._sources.append("screen")
        self._tracks.append(self._make_track("screen"))
        await self._send_offer(ice_restart=False)

    async def restart_ice(self) -> None:
        """Reconnect after a network change: a fresh ICE transport (new peer connection) and a new offer."""
        await self._replace_pc()
        await self._send_offer(ice_restart=True)

    # -- observation ----------------------------------------------------------------------------------
    def stats(self) -> PeerStats:
        c = self._c
        local = self._pc.localDescription
        types = tuple(_candidate_types(local.sdp)) if local is not None else ()
        selected = _selected_pair_types(self._pc)
        return PeerStats(
            connection_state=self._pc.connectionState,
            connected_after=None if c.connected_at is None else c.connected_at - c.started,
            first_frame_after={k: t - c.started for k, t in c.first_frame.items()},
            frames_received=dict(c.frames),
            frames_by_track=dict(c.by_track),
            local_candidate_types=types,
            selected_local_type=selected[0],
            selected_remote_type=selected[1],
            rejected_signals=c.rejected,
            restarts=c.restarts,
            ended=self._ended.is_set(),
            failure=None if self.failure is None else str(self.failure),
        )

    async def wait_connected(self, timeout: float = 10.0) -> PeerStats:
        await self._wait_for(lambda s: s.connection_state == "connected", timeout, "ICE/DTLS connected")
        return self.stats()

    async def wait_frames(
        self, kind: str, count: int, timeout: float = 10.0, track: str | None = None
    ) -> None:
        """Wait until ``count`` more frames than now were decoded (of ``kind``, or of one ``track``)."""
        key = track or kind

        def decoded(s: PeerStats) -> int:
            return (s.frames_by_track if track else s.frames_received).get(key, 0)

        target = decoded(self.stats()) + count
        await self._wait_for(lambda s: decoded(s) >= target, timeout, f"{count} {key} frames")

    async def wait_ended(self, timeout: float = 10.0) -> None:
        await self._wait_for(lambda s: s.ended, timeout, "call ended")

    async def wait_rejected(self, timeout: float = 10.0) -> None:
        await self.wait_for_rejections(1, timeout)

    async def wait_for_rejections(self, count: int, timeout: float = 10.0) -> None:
        await self._wait_for(lambda s: s.rejected_signals >= count, timeout, f"{count} rejected signals")

    async def _wait_for(self, cond: Callable[[PeerStats], bool], timeout: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: bool(cond(self.stats())))
        except TimeoutError:
            raise TimeoutError(f"{self.name}: no {what} within {timeout} s; now {self.stats()}") from None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- internals ------------------------------------------------------------------------------------
    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(self._config)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc is not self._pc:
                return
            if pc.connectionState == "connected" and self._c.connected_at is None:
                self._c.connected_at = time.perf_counter()
            logger.debug("%s: connection %s", self.name, pc.connectionState)
            await self._notify()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            task = asyncio.create_task(self._consume(track))
            self._receiver_tasks.add(task)
            task.add_done_callback(self._receiver_tasks.discard)

        return pc

    async def _replace_pc(self) -> None:
        old = self._pc
        self._pc = self._new_pc()
        for track in self._tracks:
            track.stop()
        self._tracks = [self._make_track(k) for k in self._sources]
        self._c.restarts += 1
        self._c.connected_at = None
        self._c.started = time.perf_counter()
        await old.close()

    def _make_track(self, source: str) -> MediaStreamTrack:
        if source == "audio":
            return SyntheticAudioTrack()
        return SyntheticVideoTrack(*self._video_size, clock_start=self._clock)

    def _ensure_tracks(self, *, reuse_only: bool = False) -> bool:
        """Send every live track; ``reuse_only`` (answering) uses only m-lines the offer has.

        Returns True if some track could not be placed (the caller then offers it itself)."""
        present = {id(s.track) for s in self._pc.getSenders()}
        unsent = False
        for track in self._tracks:
            if id(track) in present or track.readyState != "live":
                continue
            free = any(
                t.kind == track.kind and t.sender.track is None and not t.stopped
                for t in self._pc.getTransceivers()
            )
            if reuse_only and not free:
                unsent = True
                continue
            self._pc.addTrack(track)
        return unsent

    def _video_sender(self) -> RTCRtpSender:
        for sender in self._pc.getSenders():
            if sender.kind == "video":
                return sender
        raise RuntimeError("this peer sends no video")

    async def _send_offer(self, *, ice_restart: bool) -> None:
        self._ensure_tracks()
        await self._pc.setLocalDescription(await self._pc.createOffer())
        self._check_candidates()
        sdp = self._pc.localDescription.sdp
        await self._channel.send(SignalMessage(SignalKind.OFFER, sdp=sdp, ice_restart=ice_restart))

    async def _receive_loop(self) -> None:
        while True:
            try:
                msg = await self._channel.receive()
                await self._handle(msg)
            except SignalRejected as exc:
                self._c.rejected += 1
                self.last_rejection = str(exc)
                logger.warning("%s: rejected a signal: %s", self.name, exc)
                await self._notify()
            except ChannelClosed:
                break
            except NoRelayCandidates as exc:
                self.failure = exc
                logger.warning("%s", exc)
                break
        if not self._ended.is_set():
            await self.close()

    async def _handle(self, msg: SignalMessage) -> None:
        if msg.kind is SignalKind.HANGUP:
            await self.close()
            raise ChannelClosed("hung up")
        if msg.kind is SignalKind.OFFER:
            assert msg.sdp is not None
            if msg.ice_restart or self._pc.connectionState in ("failed", "closed"):
                await self._replace_pc()
            elif self._pc.signalingState != "stable":
                raise SignalRejected("offer collided with our own pending offer")
            if self._pc.remoteDescription is None and not self._c.restarts:
                self._c.started = time.perf_counter()
            await self._apply_remote(RTCSessionDescription(sdp=msg.sdp, type="offer"))
            unsent = self._ensure_tracks(reuse_only=True)
            await self._pc.setLocalDescription(await self._pc.createAnswer())
            self._check_candidates()
            await self._channel.send(SignalMessage(SignalKind.ANSWER, sdp=self._pc.localDescription.sdp))
            if unsent:  # e.g. our screen share after the other side restarted ICE: offer it ourselves
                await self._send_offer(ice_restart=False)
        elif msg.kind is SignalKind.ANSWER:
            assert msg.sdp is not None
            if self._pc.signalingState != "have-local-offer":
                raise SignalRejected("answer without a pending offer")
            await self._apply_remote(RTCSessionDescription(sdp=msg.sdp, type="answer"))
        elif msg.kind is SignalKind.CANDIDATE and msg.candidate:
            try:
                cand = candidate_from_sdp(msg.candidate.removeprefix("candidate:"))
            except (ValueError, IndexError) as exc:
                raise SignalRejected("malformed candidate") from exc
            cand.sdpMid, cand.sdpMLineIndex = msg.sdp_mid, msg.sdp_mline_index
            await self._pc.addIceCandidate(cand)
        await self._notify()

    def _check_candidates(self) -> None:
        if self._relay_only and "relay" not in _candidate_types(self._pc.localDescription.sdp):
            raise NoRelayCandidates(
                f"{self.name}: TURN gave no relay address"
                " (credentials wrong or expired, or server unreachable)"
            )

    async def _apply_remote(self, desc: RTCSessionDescription) -> None:
        try:
            await self._pc.setRemoteDescription(desc)
        except (ValueError, KeyError) as exc:  # aiortc's errors for SDP it cannot use
            raise SignalRejected(f"unusable {desc.type}: {exc}") from exc

    async def _consume(self, track: MediaStreamTrack) -> None:
        c = self._c
        kind = track.kind
        key = f"{kind}:{sum(1 for k in c.by_track if k.startswith(kind + ':'))}"
        c.by_track[key] = 0
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            c.frames[kind] = c.frames.get(kind, 0) + 1
            c.by_track[key] += 1
            if kind not in c.first_frame:
                c.first_frame[kind] = time.perf_counter()
            await self._notify()


def _candidate_types(sdp: str) -> list[str]:
    types: list[str] = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:") and " typ " in line:
            kind = line.split(" typ ", 1)[1].split()[0]
            if kind not in types:
                types.append(kind)
    return types


def _selected_pair_types(pc: RTCPeerConnection) -> tuple[str | None, str | None]:
    """Types of the nominated ICE pair. aiortc's getStats has no candidate-pair stats yet: read aioice."""
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport
        if dtls is None:
            continue
        connection = getattr(dtls.transport, "_connection", None)
        nominated = getattr(connection, "_nominated", None)
        if nominated:
            pair = next(iter(nominated.values()))
            return pair.local_candidate.type, pair.remote_candidate.type
    return None, None
