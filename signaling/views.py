"""What each participant is shown of a session: its view of the room and appointment, its TURN credentials.

A client sees the therapist's ids and its own; co-participants only by their opaque handles
(docs/SESSIONS.md). TURN credentials name the handle, never the account or device.
"""

from __future__ import annotations

from signaling import wire as w
from signaling.limits import TURN_GRACE_S
from signaling.ports import Caller, TurnSettings
from signaling.rooms import LiveSession
from signaling.states import SessionState
from signaling.turn import mint_turn_credentials
from storage.appointments import Appointment

__all__ = ["room_view", "session_out", "turn_out"]


def room_view(a: Appointment, room: w.CallStateEvent, viewer: str) -> w.CallStateEvent:
    """What ``viewer`` sees: a client, the therapist's and its own ids; co-participants by handle only."""
    if viewer == a.therapist_id:
        return room
    shown = (a.therapist_id, viewer)
    members = [m if m.account_id in shown else w.MemberOut(m.peer, m.state, m.join) for m in room.members]
    return w.CallStateEvent(room.session_id, room.state, members)


def session_out(a: Appointment, live: LiveSession | None, viewer: Caller) -> w.SessionOut:
    state = live.state.value if live is not None and a.state == SessionState.SCHEDULED.value else a.state
    shown = list(a.participants) if viewer.account_id == a.therapist_id else [viewer.account_id]
    return w.SessionOut(
        a.session_id,
        a.therapist_id,
        shown,
        len(a.participants),
        a.starts_at,
        a.ends_at,
        a.max_participants,
        state,
        a.created_at,
        a.updated_at,
        a.started_at,
        a.ended_at,
    )


def turn_out(
    settings: TurnSettings, peer: str, a: Appointment, now_ms: int, cap_s: int | None = None
) -> w.TurnOut | None:
    """TURN credentials for a member's opaque handle, valid until the session's window closes (plus the
    room's grace), never longer than the configured lifetime; None when no TURN server is configured.
    Renewed by ``SessionService.turn_credentials``."""
    if not settings.urls or not settings.secret:
        return None
    window_s = max((a.ends_at - now_ms) // 1000, 0) + TURN_GRACE_S
    creds = mint_turn_credentials(
        secret=settings.secret,
        user=peer,
        urls=settings.urls,
        ttl_seconds=min(settings.ttl_seconds, window_s, cap_s or window_s),
        now=now_ms / 1000,
    )
    return w.TurnOut([w.IceServerOut(list(creds.urls), creds.username, creds.credential)], creds.expires_at)
