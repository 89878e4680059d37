"""The two state machines of a video session, and nothing else.

Session (one per appointment)::

    scheduled --open--> open --start--> in_progress --end--> ended
        |  ^               |                              ^
        |  +--reschedule   +-------------end--------------+
        +--cancel--> cancelled <--cancel-- open

Participant (one per account in a session; no state = invited, not yet arrived)::

    (invited) --join--> waiting --admit--> admitted --connect--> connected
    left --join--> waiting                 connected --disconnect--> admitted
    admitted | connected --drop--> away    (the device's last socket closed: a reload, a network switch)
    away --join--> admitted                (back on the same device: no new admission while the room is open)
    waiting --drop--> left
    waiting | admitted | connected | away --leave--> left
    waiting | admitted | connected | away --remove--> removed   (final for this session)

The therapist hosts: their own ``join`` lands directly in ``admitted`` (``host_join``).
Every transition not in the tables raises :class:`InvalidTransition`; callers never compare states themselves.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "InvalidTransition",
    "ParticipantEvent",
    "ParticipantState",
    "SessionEvent",
    "SessionState",
    "next_participant_state",
    "next_session_state",
]


class SessionState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    ENDED = "ended"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (SessionState.ENDED, SessionState.CANCELLED)

    @property
    def live(self) -> bool:
        """The waiting room exists: participants may join and signal."""
        return self in (SessionState.OPEN, SessionState.IN_PROGRESS)


class SessionEvent(StrEnum):
    OPEN = "open"  # the therapist opens the waiting room
    START = "start"  # the first client is admitted
    END = "end"  # the therapist ends it, or the window closed
    CANCEL = "cancel"  # the therapist cancels before it started
    RESCHEDULE = "reschedule"  # new window / participants, only before it opened


class ParticipantState(StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    CONNECTED = "connected"
    AWAY = "away"  # admitted, then the connection dropped: holds the seat and the admission
    LEFT = "left"
    REMOVED = "removed"

    @property
    def present(self) -> bool:
        """In the room (waiting or beyond), i.e. counted against the participant limit."""
        return self in (
            ParticipantState.WAITING,
            ParticipantState.ADMITTED,
            ParticipantState.CONNECTED,
            ParticipantState.AWAY,
        )

    @property
    def admitted(self) -> bool:
        """May exchange signaling with the other admitted participants."""
        return self in (ParticipantState.ADMITTED, ParticipantState.CONNECTED)


class ParticipantEvent(StrEnum):
    JOIN = "join"
    HOST_JOIN = "host_join"
    ADMIT = "admit"
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    DROP = "drop"  # the device's last socket closed without a leave
    LEAVE = "leave"
    REMOVE = "remove"


class InvalidTransition(Exception):
    """``event`` is not allowed in state ``state`` (``state`` is None for a participant not yet arrived)."""

    def __init__(self, machine: str, state: str | None, event: str) -> None:
        self.machine = machine
        self.state = state
        self.event = event
        super().__init__(f"{machine}: cannot {event} when {state or 'not joined'}")


_S, _SE = SessionState, SessionEvent
_SESSION: dict[tuple[SessionState, SessionEvent], SessionState] = {
    (_S.SCHEDULED, _SE.OPEN): _S.OPEN,
    (_S.SCHEDULED, _SE.RESCHEDULE): _S.SCHEDULED,
    (_S.SCHEDULED, _SE.CANCEL): _S.CANCELLED,
    (_S.SCHEDULED, _SE.END): _S.ENDED,  # the window passed and nobody came
    (_S.OPEN, _SE.START): _S.IN_PROGRESS,
    (_S.OPEN, _SE.END): _S.ENDED,
    (_S.OPEN, _SE.CANCEL): _S.CANCELLED,
    (_S.IN_PROGRESS, _SE.END): _S.ENDED,
}

_P, _PE = ParticipantState, ParticipantEvent
_PARTICIPANT: dict[tuple[ParticipantState | None, ParticipantEvent], ParticipantState] = {
    (None, _PE.JOIN): _P.WAITING,
    (_P.LEFT, _PE.JOIN): _P.WAITING,
    (None, _PE.HOST_JOIN): _P.ADMITTED,
    (_P.LEFT, _PE.HOST_JOIN): _P.ADMITTED,
    (_P.WAITING, _PE.ADMIT): _P.ADMITTED,
    (_P.ADMITTED, _PE.CONNECT): _P.CONNECTED,
    (_P.CONNECTED, _PE.CONNECT): _P.CONNECTED,  # a reconnect (ICE restart) reports again
    (_P.CONNECTED, _PE.DISCONNECT): _P.ADMITTED,
    (_P.ADMITTED, _PE.DISCONNECT): _P.ADMITTED,
    (_P.WAITING, _PE.DROP): _P.LEFT,
    (_P.ADMITTED, _PE.DROP): _P.AWAY,
    (_P.CONNECTED, _PE.DROP): _P.AWAY,
    (_P.AWAY, _PE.JOIN): _P.ADMITTED,
    (_P.AWAY, _PE.HOST_JOIN): _P.ADMITTED,
    (_P.AWAY, _PE.LEAVE): _P.LEFT,
    (_P.AWAY, _PE.REMOVE): _P.REMOVED,
    (_P.WAITING, _PE.LEAVE): _P.LEFT,
    (_P.ADMITTED, _PE.LEAVE): _P.LEFT,
    (_P.CONNECTED, _PE.LEAVE): _P.LEFT,
    (_P.WAITING, _PE.REMOVE): _P.REMOVED,
    (_P.ADMITTED, _PE.REMOVE): _P.REMOVED,
    (_P.CONNECTED, _PE.REMOVE): _P.REMOVED,
}


def next_session_state(state: SessionState, event: SessionEvent) -> SessionState:
    try:
        return _SESSION[(state, event)]
    except KeyError:
        raise InvalidTransition("session", state.value, event.value) from None


def next_participant_state(state: ParticipantState | None, event: ParticipantEvent) -> ParticipantState:
    try:
        return _PARTICIPANT[(state, event)]
    except KeyError:
        raise InvalidTransition("participant", state.value if state else None, event.value) from None
