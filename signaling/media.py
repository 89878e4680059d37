"""Synthetic camera and microphone for aiortc peers (tests, benchmarks, probes): no devices needed."""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import numpy as np
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from av import AudioFrame, VideoFrame

__all__ = ["SyntheticAudioTrack", "SyntheticVideoTrack"]

_SAMPLE_RATE = 8000  # aiortc's base audio track clock, whose pacing and timestamps we reuse
_SAMPLES = 160  # 20 ms, aiortc's audio packetization
_VIDEO_CLOCK = 90000
_FRAME_S = 1 / 30


class SyntheticVideoTrack(VideoStreamTrack):
    """A moving gradient, small by default: encoding (VP8 in Python) dominates the CPU cost of a call.

    Timestamps count from ``clock_start`` (wall clock): a camera turned off and on again is a new track on
    the same sender, and the encoder refuses timestamps that go back, so the peer gives all its camera
    tracks one start. After a pause the clock jumps to now (no burst of frames to catch up).
    """

    def __init__(self, width: int = 160, height: int = 120, clock_start: float | None = None) -> None:
        super().__init__()
        ramp = np.linspace(0, 255, width, dtype=np.float32)
        self._base = np.broadcast_to(ramp, (height, width)).astype(np.uint8)
        self._count = 0
        self._t0 = clock_start
        self._due: float | None = None

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.time()
        if self._t0 is None:
            self._t0 = now
        if self._due is None or now - self._due > 0.5:  # the first frame, or the first after a pause
            self._due = now
        else:
            self._due += _FRAME_S
            if self._due > now:
                await asyncio.sleep(self._due - now)  # 30 frames a second
        return int((self._due - self._t0) * _VIDEO_CLOCK), fractions.Fraction(1, _VIDEO_CLOCK)

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._count += 1
        luma = np.roll(self._base, self._count * 2, axis=1)
        img = np.dstack([luma, np.full_like(luma, (self._count * 3) % 256), 255 - luma])
        frame = VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


class SyntheticAudioTrack(AudioStreamTrack):
    """A 440 Hz tone, mono 8 kHz s16, paced by aiortc's base class clock (Opus resamples it)."""

    def __init__(self) -> None:
        super().__init__()
        self._phase = 0

    async def recv(self) -> AudioFrame:
        silence = await super().recv()  # keeps aiortc's pacing and timestamps
        t = (np.arange(_SAMPLES) + self._phase) / _SAMPLE_RATE
        self._phase += _SAMPLES
        samples = (np.sin(2 * math.pi * 440.0 * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = _SAMPLE_RATE
        frame.pts = silence.pts
        frame.time_base = fractions.Fraction(1, _SAMPLE_RATE)
        return frame
