"""The session and participant state machines: every allowed path works, everything else is refused."""

from __future__ import annotations

import pytest

from signaling.states import (
    InvalidTransition,
    ParticipantEvent,
    ParticipantState,
    SessionEvent,
    SessionState,
    next_participant_state,
    next_session_state,
)

S, SE = SessionState, SessionEvent
P, PE = ParticipantState, ParticipantEvent


def run_session(*events: SessionEvent) -> SessionState:
    state = S.SCHEDULED
    for event in events:
        state = next_session_state(state, event)
    return state


def test_a_session_goes_from_scheduled_through_open_and_in_progress_to_ended() -> None:
    assert run_session(SE.RESCHEDULE, SE.OPEN, SE.START, SE.END) is S.ENDED


@pytest.mark.parametrize("events", [(SE.CANCEL,), (SE.OPEN, SE.CANCEL)])
def test_a_session_can_be_cancelled_before_it_starts(events: tuple[SessionEvent, ...]) -> None:
    assert run_session(*events) is S.CANCELLED


@pytest.mark.parametrize(
    ("events", "refused"),
    [
        ((SE.OPEN, SE.START), SE.CANCEL),  # a session in progress is ended, not cancelled
        ((SE.OPEN,), SE.RESCHEDULE),  # people are already waiting
        ((SE.OPEN, SE.START, SE.END), SE.OPEN),  # an ended session never reopens
        ((SE.CANCEL,), SE.OPEN),
        ((SE.CANCEL,), SE.END),
        ((), SE.START),  # nobody can be admitted before the room is open
    ],
)
def test_forbidden_session_transitions_are_refused_with_a_typed_error(
    events: tuple[SessionEvent, ...], refused: SessionEvent
) -> None:
    state = run_session(*events)
    with pytest.raises(InvalidTransition) as info:
        next_session_state(state, refused)
    assert info.value.machine == "session"
    assert info.value.state == state.value
    assert info.value.event == refused.value
    assert f"cannot {refused.value}" in str(info.value)


def test_final_and_live_session_states() -> None:
    assert {s for s in S if s.final} == {S.ENDED, S.CANCELLED}
    assert {s for s in S if s.live} == {S.OPEN, S.IN_PROGRESS}


def test_a_client_waits_then_is_admitted_connects_and_leaves_and_may_come_back() -> None:
    state: ParticipantState | None = None
    for event, expected in [
        (PE.JOIN, P.WAITING),
        (PE.ADMIT, P.ADMITTED),
        (PE.CONNECT, P.CONNECTED),
        (PE.CONNECT, P.CONNECTED),
        (PE.DISCONNECT, P.ADMITTED),
        (PE.CONNECT, P.CONNECTED),
        (PE.LEAVE, P.LEFT),
        (PE.JOIN, P.WAITING),
    ]:
        state = next_participant_state(state, event)
        assert state is expected


def test_a_dropped_connection_keeps_the_admission_until_the_participant_is_back() -> None:
    state: ParticipantState | None = P.CONNECTED
    for event, expected in [
        (PE.DROP, P.AWAY),  # a reload or a network switch: the last socket closed
        (PE.JOIN, P.ADMITTED),  # back, without a new admission
        (PE.DROP, P.AWAY),
        (PE.LEAVE, P.LEFT),
    ]:
        state = next_participant_state(state, event)
        assert state is expected
    assert next_participant_state(P.WAITING, PE.DROP) is P.LEFT  # nobody admitted them: they just went
    assert next_participant_state(P.AWAY, PE.HOST_JOIN) is P.ADMITTED
    with pytest.raises(InvalidTransition):
        next_participant_state(P.AWAY, PE.CONNECT)  # no media before being back in the room


def test_the_therapist_joins_admitted() -> None:
    assert next_participant_state(None, PE.HOST_JOIN) is P.ADMITTED


@pytest.mark.parametrize("state", [P.WAITING, P.ADMITTED, P.CONNECTED, P.AWAY])
def test_a_removed_participant_cannot_rejoin(state: ParticipantState) -> None:
    removed = next_participant_state(state, PE.REMOVE)
    assert removed is P.REMOVED
    for event in PE:
        with pytest.raises(InvalidTransition):
            next_participant_state(removed, event)


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (None, PE.ADMIT),  # admitting someone who is not in the waiting room
        (None, PE.CONNECT),
        (P.WAITING, PE.CONNECT),  # media before admission
        (P.WAITING, PE.JOIN),
        (P.ADMITTED, PE.ADMIT),
        (P.LEFT, PE.ADMIT),
        (P.LEFT, PE.LEAVE),
    ],
)
def test_forbidden_participant_transitions_are_refused(
    state: ParticipantState | None, event: ParticipantEvent
) -> None:
    with pytest.raises(InvalidTransition) as info:
        next_participant_state(state, event)
    assert info.value.machine == "participant"
    assert "not joined" in str(info.value) if state is None else state.value in str(info.value)


def test_admitted_means_may_signal() -> None:
    assert {p for p in P if p.admitted} == {P.ADMITTED, P.CONNECTED}
    assert {p for p in P if p.present} == {P.WAITING, P.ADMITTED, P.CONNECTED, P.AWAY}
