"""Every limit of video sessions and call signaling, each with its reason.

``signaling`` depends on nothing of the server, so its limits live here rather than in ``server.limits``;
the server and the SDK import them from this module.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "JOIN_EARLY_MS",
    "MAX_SESSIONS_LISTED",
    "MAX_SESSION_MS",
    "MAX_SIGNAL_BYTES",
    "PRECALL_TURN_TTL_S",
    "ROOM_TTL_GRACE_S",
    "TURN_GRACE_S",
]

# The waiting room opens a quarter of an hour before the start (the web client shows "join" from then on).
JOIN_EARLY_MS: Final = 15 * 60 * 1000

# A therapy session, even a group one, is hours long, not days.
MAX_SESSION_MS: Final = 8 * 3600 * 1000

# Room keys in the broker outlive the window, so that a session running over time keeps its state.
ROOM_TTL_GRACE_S: Final = 2 * 3600

# TURN credentials for a client still in the waiting room: its pre-call network check needs the relay for
# seconds, not for the session.
PRECALL_TURN_TTL_S: Final = 120

# TURN credentials outlive the session's window by this much: a session may run a little over its time, and
# the relay must not cut it mid-sentence (they are renewed while admitted anyway).
TURN_GRACE_S: Final = 15 * 60

# Sessions listed in one reply: a therapist's upcoming week, with room; bounds the reply's size.
MAX_SESSIONS_LISTED: Final = 200

# One signal's plaintext JSON: a full aiortc/Chromium offer with audio, video, screen share and all candidates
# is ~6-12 KB. Equal to ``crypto.limits.MAX_SIGNAL_PLAINTEXT_BYTES``, which seals it (a test pins the two).
MAX_SIGNAL_BYTES: Final = 32 * 1024
