"""Scheduling from the SDK, as the therapist's browser does it: schedule, move or cancel a video session and
tell every client of it, in their conversation (an ordinary end-to-end encrypted text message).

    session = await schedule(therapist, [client_id], starts_at=ms, duration_s=3000, weeks=4)
    moved = await reschedule(therapist, session, starts_at=later_ms)
    await cancel(therapist, moved)

The notice texts are pinned for both clients by tests/vectors/schedule_notice.json (web-client/src/app/
schedule.js builds the same words). Times are written in the sender's time zone with its offset named
("14:00 UTC+01:00"), because the therapist and the client may not share a time zone; the words are built
here, never by a locale library, so both clients write the same bytes. The server only ever sees the
ciphertext and the session's routing times it already stores.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from client.device import Device

__all__ = [
    "WEEK_MS",
    "cancel",
    "cancelled_text",
    "local_offset_minutes",
    "moved_text",
    "reschedule",
    "schedule",
    "scheduled_text",
    "tell_clients",
    "when_text",
]

JSON = dict[str, Any]
WEEK_MS = 7 * 24 * 3600 * 1000
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def local_offset_minutes(at_ms: int) -> int:
    """This machine's offset from UTC at that instant, in minutes (east positive; summer time included)."""
    offset = dt.datetime.fromtimestamp(at_ms / 1000).astimezone().utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def _zone(offset_min: int) -> str:
    if offset_min == 0:
        return "UTC"
    sign = "+" if offset_min > 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def when_text(starts_at: int, ends_at: int, offset_min: int | None = None) -> str:
    """``Monday 7 December 2026, 14:00 UTC+01:00 (50 minutes)``: the start in that offset, and the length."""
    offset = local_offset_minutes(starts_at) if offset_min is None else offset_min
    t = dt.datetime.fromtimestamp(starts_at / 1000, dt.UTC) + dt.timedelta(minutes=offset)
    length = (ends_at - starts_at) // 60000
    return (
        f"{_DAYS[t.weekday()]} {t.day} {_MONTHS[t.month - 1]} {t.year}, "
        f"{t.hour:02d}:{t.minute:02d} {_zone(offset)} ({length} minutes)"
    )


def scheduled_text(session: JSON, weeks: int = 1, offset_min: int | None = None) -> str:
    when = when_text(session["starts_at"], session["ends_at"], offset_min)
    if weeks > 1:
        return f"Video sessions scheduled: weekly for {weeks} weeks, starting {when}."
    return f"Video session scheduled: {when}."


def moved_text(before: JSON, after: JSON, offset_min: int | None = None) -> str:
    was = when_text(before["starts_at"], before["ends_at"], offset_min)
    now = when_text(after["starts_at"], after["ends_at"], offset_min)
    return f"Video session moved from {was} to {now}."


def cancelled_text(session: JSON, offset_min: int | None = None) -> str:
    return f"Video session cancelled: {when_text(session['starts_at'], session['ends_at'], offset_min)}."


async def tell_clients(therapist: Device, session: JSON, text: str) -> list[str]:
    """Send ``text`` to every client of the session, in their conversation; returns the message ids."""
    return [await therapist.send(str(account), text) for account in session["participants"]]


async def schedule(
    therapist: Device,
    participants: Sequence[str],
    *,
    starts_at: int | None = None,
    duration_s: int = 3000,
    weeks: int = 1,
    tell: bool = True,
) -> list[JSON]:
    """``POST /sessions`` once per week (each its own appointment, moved or cancelled alone); one notice."""
    start = starts_at if starts_at is not None else int(time.time() * 1000)
    sessions: list[JSON] = []
    for week in range(max(weeks, 1)):
        at = start + week * WEEK_MS
        body = {"participants": list(participants), "starts_at": at, "ends_at": at + duration_s * 1000}
        sessions.append(await therapist.api.request("POST", "/sessions", body))
    if tell:
        await tell_clients(therapist, sessions[0], scheduled_text(sessions[0], len(sessions)))
    return sessions


async def reschedule(
    therapist: Device, session: JSON, *, starts_at: int, ends_at: int | None = None, tell: bool = True
) -> JSON:
    """``PATCH /sessions/{id}`` (same length unless ``ends_at``), then the clients are told where it moved."""
    end = ends_at if ends_at is not None else starts_at + (session["ends_at"] - session["starts_at"])
    moved = await therapist.api.request(
        "PATCH", f"/sessions/{session['session_id']}", {"starts_at": starts_at, "ends_at": end}
    )
    if tell:
        await tell_clients(therapist, moved, moved_text(session, moved))
    return moved


async def cancel(therapist: Device, session: JSON, *, tell: bool = True) -> JSON:
    """``DELETE /sessions/{id}``, then the clients are told which session was cancelled."""
    cancelled = await therapist.api.request("DELETE", f"/sessions/{session['session_id']}")
    if tell:
        await tell_clients(therapist, session, cancelled_text(session))
    return cancelled
