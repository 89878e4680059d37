"""Time as integer milliseconds since the epoch, injectable so that tests never sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "system_clock"]

Clock = Callable[[], int]


def system_clock() -> int:
    return time.time_ns() // 1_000_000
