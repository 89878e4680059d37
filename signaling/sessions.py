"""The rules of video sessions: scheduling, the waiting room, admission, and who may signal whom.

Durable appointments go to an ``AppointmentStore``; live room state to the Broker (``signaling.rooms``);
every state change goes through ``signaling.states``. Links and consent are checked by callables the
server hands in (its LinkService), so that this module knows nothing of the server: what it needs from
the server is in ``signaling.ports``, what each participant is shown in ``signaling.views``.
Refusals are ``signaling.errors.SessionError`` (stable ``code`` + ``reason``) or the server's own errors
raised by those callables (``not_linked``, ``consent_required``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import replace

from signaling import errors as e
from signaling import wire as w
from signaling.limits import (
    JOIN_EARLY_MS,
    MAX_SESSION_MS,
    MAX_SESSIONS_LISTED,
    PRECALL_TURN_TTL_S,
    ROOM_TTL_GRACE_S,
)
from signaling.ports import (
    Caller,
    Connected,
    ConsentCheck,
    LinkCheck,
    NoEvents,
    Notifier,
    SessionEvents,
    TurnSettings,
)
from signaling.rooms import LiveSession, Member, RoomStore
from signaling.states import (
    InvalidTransition,
    ParticipantEvent,
    ParticipantState,
    SessionEvent,
    SessionState,
    next_participant_state,
    next_session_state,
)
from signaling.views import room_view, session_out, turn_out
from storage.appointments import Appointment, AppointmentStore, Reschedule
from storage.broker import Broker
from storage.records import Role

# Caller, Notifier and TurnSettings stay importable from here: they are what a SessionService is built from.
__all__ = ["Caller", "Notifier", "SessionService", "TurnSettings"]


_NO_TURN = TurnSettings()  # no TURN configured: host/STUN candidates only


class SessionService:
    def __init__(
        self,
        appointments: AppointmentStore,
        broker: Broker,
        notifier: Notifier,
        clock: Callable[[], int],
        *,
        is_linked: LinkCheck,
        require_consent: ConsentCheck,
        turn: TurnSettings = _NO_TURN,
        events: SessionEvents | None = None,
    ) -> None:
        self._store = appointments
        self._rooms = RoomStore(broker)
        self._notifier = notifier
        self._clock = clock
        self._is_linked = is_linked
        self._require_consent = require_consent
        self._turn = turn
        self._events: SessionEvents = events or NoEvents()
        self._locks: dict[str, asyncio.Lock] = {}
        # device_id -> sessions it joined through this node: where to look when its socket closes. Dropped
        # when the device disconnects, so it stays as small as the set of connected participants. A join
        # that lands after its socket closed is handled by the caller (server.realtime_sessions).
        self._joined: dict[str, set[str]] = {}

    # -- scheduling (HTTP) ----------------------------------------------------------------------------------
    async def create(self, caller: Caller, body: w.CreateSessionIn) -> w.SessionOut:
        self._require_therapist(caller)
        now = self._clock()
        participants = tuple(sorted(set(body.participants)))
        max_participants = body.max_participants or len(participants)
        await self._check_schedule(caller, body.starts_at, body.ends_at, participants, max_participants, now)
        appointment = Appointment(
            secrets.token_hex(16),
            caller.account_id,
            participants,
            body.starts_at,
            body.ends_at,
            max_participants,
            SessionState.SCHEDULED.value,
            now,
            now,
        )
        await self._store.add_appointment(appointment)
        return session_out(appointment, None, caller)

    async def list(self, caller: Caller) -> w.SessionsOut:
        found = await self._store.get_appointments_of(
            caller.account_id, ends_after=self._clock() - MAX_SESSION_MS, limit=MAX_SESSIONS_LISTED
        )
        return w.SessionsOut(
            [session_out(a, await self._rooms.get_live(a.session_id), caller) for a in found]
        )

    async def get(self, caller: Caller, session_id: str) -> w.SessionOut:
        appointment = await self._visible(caller, session_id)
        return session_out(appointment, await self._rooms.get_live(session_id), caller)

    async def reschedule(self, caller: Caller, session_id: str, body: w.RescheduleIn) -> w.SessionOut:
        a = await self._hosted(caller, session_id)
        now = self._clock()
        state = await self._state(a)
        try:
            next_session_state(state, SessionEvent.RESCHEDULE)
        except InvalidTransition:
            raise self._state_error(state, "reschedule") from None
        participants = (
            tuple(sorted(set(body.participants))) if body.participants is not None else a.participants
        )
        change = Reschedule(
            body.starts_at if body.starts_at is not None else a.starts_at,
            body.ends_at if body.ends_at is not None else a.ends_at,
            participants,
            body.max_participants or (a.max_participants if body.participants is None else len(participants)),
        )
        await self._check_schedule(
            caller, change.starts_at, change.ends_at, participants, change.max_participants, now
        )
        updated = await self._store.update_appointment(session_id, change, now)
        if updated is None:  # cancelled or ended meanwhile
            raise self._state_error(await self._state(await self._visible(caller, session_id)), "reschedule")
        return session_out(updated, None, caller)

    async def cancel(self, caller: Caller, session_id: str) -> w.SessionOut:
        a = await self._hosted(caller, session_id)
        async with self._lock(session_id):
            state = await self._state(a)
            try:
                next_session_state(state, SessionEvent.CANCEL)
            except InvalidTransition:
                raise self._state_error(state, "cancel") from None
            await self._close(a, SessionState.CANCELLED)
        return session_out(await self._reload(session_id), None, caller)

    async def attendance(self, caller: Caller, session_id: str) -> w.AttendanceOut:
        await self._hosted(caller, session_id)
        rows = await self._store.get_attendance(session_id)
        return w.AttendanceOut([w.AttendanceItemOut(r.account_id, r.joined_at, r.left_at) for r in rows])

    async def turn_credentials(self, caller: Caller, session_id: str) -> w.TurnOut:
        """Fresh TURN credentials: for admitted participants (renewal), and, valid two minutes, for a client
        in the waiting room, so its pre-call check can test the relay before the session."""
        a = await self._visible(caller, session_id)
        await self._require_live(a)
        member = await self._rooms.get_member(session_id, caller.account_id)
        waiting = member is not None and member.state is ParticipantState.WAITING
        if member is None or not (member.state.admitted or waiting) or member.device_id != caller.device_id:
            raise e.NotAdmitted("Only participants in the room get TURN credentials.")
        turn = self._mint(member.peer, a, PRECALL_TURN_TTL_S if waiting else None)
        if turn is None:
            raise e.TurnUnavailable("This server has no TURN relay configured.")
        return turn

    # -- the room (socket.io) ------------------------------------------------------------------------------
    async def join(self, caller: Caller, session_id: str, join: str) -> w.CallJoinOut:
        """Enter the room with a fresh join statement (``join``; each reload or reconnect draws a new one).

        Back on the same device after a dropped connection (``away``), a participant is admitted again
        without the therapist; from another device, a client waits for admission again.
        """
        a = await self._visible(caller, session_id)
        host = caller.account_id == a.therapist_id
        if not host:
            await self._require_consent(a.therapist_id, caller.account_id)
        now = self._clock()
        async with self._lock(session_id):
            live = await self._require_live(a, opening=True)
            if not a.starts_at - JOIN_EARLY_MS <= now <= a.ends_at:
                raise e.OutsideWindow(
                    "The session can be joined from 15 minutes before its start until its end.",
                    starts_at=a.starts_at,
                    ends_at=a.ends_at,
                )
            if live is None:
                live = LiveSession(next_session_state(SessionState.SCHEDULED, SessionEvent.OPEN), now)
                await self._rooms.put_live(session_id, live, self._ttl(a))
            member = await self._rooms.get_member(session_id, caller.account_id)
            if member is not None and member.state is ParticipantState.REMOVED:
                raise e.ParticipantRemoved("The therapist removed you from this session.")
            event = ParticipantEvent.HOST_JOIN if host else ParticipantEvent.JOIN
            away = member is not None and member.state is ParticipantState.AWAY
            if away and not host and member is not None and member.device_id != caller.device_id:
                state = ParticipantState.WAITING  # back on another device: the therapist admits it
            elif away and member is not None:
                state = next_participant_state(member.state, event)
            elif member is not None and member.state.present:
                state = member.state  # a rejoin while the old socket lingers, or another tab
            else:
                state = next_participant_state(member.state if member else None, event)
            peer = member.peer if member is not None else secrets.token_hex(16)
            await self._rooms.put_member(
                session_id, Member(caller.account_id, caller.device_id, state, now, peer, join), self._ttl(a)
            )
            await self._store.add_attendance(session_id, caller.account_id, now)
            # Only once in the room: refused joins never grow the index.
            self._joined.setdefault(caller.device_id, set()).add(session_id)
        room = await self._room(a)
        if state is ParticipantState.WAITING:
            await self._notifier.to_account(
                a.therapist_id,
                "call.waiting",
                w.WaitingEvent(session_id, caller.account_id, caller.device_id),
            )
        await self._broadcast(a, room)
        turn = self._mint(peer, a) if state.admitted else None
        view = room_view(a, room, caller.account_id)
        return w.CallJoinOut(state.value, session_out(a, live, caller), view, turn)

    async def admit(self, caller: Caller, session_id: str, account_id: str) -> w.CallStateEvent:
        a = await self._hosted(caller, session_id)
        if account_id not in a.participants:
            raise e.NotInvited("This account is not invited to the session.")
        await self._require_consent(a.therapist_id, account_id)
        now = self._clock()
        async with self._lock(session_id):
            live = await self._require_live(a)
            member = await self._transition(a, account_id, ParticipantEvent.ADMIT, now)
            admitted = [
                m for m in await self._rooms.get_members(session_id, a.participants) if m.state.admitted
            ]
            if len(admitted) > a.max_participants:
                await self._rooms.put_member(
                    session_id, replace(member, state=ParticipantState.WAITING), self._ttl(a)
                )
                raise e.SessionFull(
                    f"At most {a.max_participants} clients can be admitted at once.",
                    max_participants=a.max_participants,
                )
            if live is not None and live.state is SessionState.OPEN:
                live = LiveSession(next_session_state(live.state, SessionEvent.START), now)
                await self._rooms.put_live(session_id, live, self._ttl(a))
                await self._store.mark_appointment_started(session_id, now)
        await self._events.admitted(session_id, account_id)
        room = await self._room(a)
        await self._notifier.to_device(
            member.device_id,
            "call.admitted",
            w.AdmittedEvent(session_id, room_view(a, room, account_id), self._mint(member.peer, a)),
        )
        await self._broadcast(a, room)
        return room_view(a, room, caller.account_id)

    async def remove(self, caller: Caller, session_id: str, account_id: str) -> w.CallStateEvent:
        a = await self._hosted(caller, session_id)
        if account_id == a.therapist_id or account_id not in a.participants:
            raise e.NotInvited("This account is not a participant of the session.")
        now = self._clock()
        async with self._lock(session_id):
            await self._require_live(a)
            member = await self._transition(a, account_id, ParticipantEvent.REMOVE, now)
            await self._store.close_attendance(session_id, account_id, now)
        await self._notifier.to_device(member.device_id, "call.removed", w.RemovedEvent(session_id))
        room = await self._room(a)
        await self._broadcast(a, room)
        return room_view(a, room, caller.account_id)

    async def leave(self, caller: Caller, session_id: str) -> w.CallStateEvent:
        a = await self._visible(caller, session_id)
        now = self._clock()
        async with self._lock(session_id):
            await self._require_live(a)
            await self._transition(a, caller.account_id, ParticipantEvent.LEAVE, now, device=caller.device_id)
            await self._store.close_attendance(session_id, caller.account_id, now)
        room = await self._room(a)
        await self._broadcast(a, room)
        return room_view(a, room, caller.account_id)

    async def disconnected(self, caller: Caller, connected: Connected) -> None:
        """The device's last socket closed: in every live session it joined through this node it is ``away``
        (admitted before) or ``left`` (still waiting); attendance is closed and the others get ``call.state``
        (their screens say the connection dropped). Coming back on the same device is a new ``call.join``
        that keeps the admission while the session is open.

        ``connected`` is asked under each session's lock: a device that is back (a new socket, here or on
        another node) stays in the room, and a join that follows this check also follows the leave.
        """
        for session_id in sorted(self._joined.pop(caller.device_id, set())):
            a = await self._store.get_appointment(session_id)
            if a is None or a.state != SessionState.SCHEDULED.value:
                continue
            async with self._lock(session_id):
                if await connected(caller.device_id):
                    self._joined.setdefault(caller.device_id, set()).add(session_id)
                    continue
                member = await self._rooms.get_member(session_id, caller.account_id)
                if member is None or member.device_id != caller.device_id or not member.state.present:
                    continue  # left or removed already, or in the room from another device
                if await self._rooms.get_live(session_id) is None:
                    continue
                now = self._clock()
                drop = ParticipantEvent.DROP
                await self._transition(a, caller.account_id, drop, now, device=caller.device_id)
                await self._store.close_attendance(session_id, caller.account_id, now)
            await self._broadcast(a, await self._room(a))

    async def media(self, caller: Caller, session_id: str, connected: bool) -> w.CallStateEvent:
        """A participant reports its media connected (or lost): the room shows who is really in the call."""
        a = await self._visible(caller, session_id)
        now = self._clock()
        event = ParticipantEvent.CONNECT if connected else ParticipantEvent.DISCONNECT
        async with self._lock(session_id):
            await self._require_live(a)
            member = await self._rooms.get_member(session_id, caller.account_id)
            if member is None or not member.state.admitted or member.device_id != caller.device_id:
                raise e.NotAdmitted("You have not been admitted to this session.")
            await self._transition(a, caller.account_id, event, now, device=caller.device_id)
        room = await self._room(a)
        await self._broadcast(a, room)
        return room_view(a, room, caller.account_id)

    async def end(self, caller: Caller, session_id: str) -> w.CallStateEvent:
        a = await self._hosted(caller, session_id)
        async with self._lock(session_id):
            state = await self._state(a)
            try:
                next_session_state(state, SessionEvent.END)
            except InvalidTransition:
                raise self._state_error(state, "end") from None
            room = await self._room(a)
            await self._close(a, SessionState.ENDED)
        ended = w.CallStateEvent(session_id, SessionState.ENDED.value, room.members)
        return room_view(a, ended, caller.account_id)

    async def signal(self, caller: Caller, body: w.SignalIn) -> None:
        """Relay one boxed signal between two admitted devices of the session (opaque to the server)."""
        a = await self._visible(caller, body.session_id)
        await self._require_live(a)
        sender = await self._rooms.get_member(body.session_id, caller.account_id)
        if sender is None or not sender.state.admitted or sender.device_id != caller.device_id:
            raise e.NotAdmitted("You have not been admitted to this session.")
        members = await self._rooms.get_members(body.session_id, (a.therapist_id, *a.participants))
        target = next((m for m in members if m.peer == body.to_peer), None)
        if target is None or not target.state.admitted:
            raise e.PeerNotAdmitted("The addressed device is not an admitted participant of this session.")
        if target.account_id == caller.account_id:
            raise e.PeerNotAdmitted("Signals go to another participant.")
        await self._notifier.to_device(
            target.device_id,
            "call.signal",
            w.SignalEvent(body.session_id, sender.peer, sender.join, body.payload),
        )

    # -- internals -----------------------------------------------------------------------------------------
    def _lock(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            if len(self._locks) > 10_000:  # bounded: idle locks are dropped (none is held across awaits here)
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    @staticmethod
    def _require_therapist(caller: Caller) -> None:
        if caller.role is not Role.THERAPIST:
            raise e.NotHost("Only therapists schedule sessions.")

    async def _check_schedule(
        self,
        caller: Caller,
        starts_at: int,
        ends_at: int,
        participants: tuple[str, ...],
        max_participants: int,
        now: int,
    ) -> None:
        if ends_at <= starts_at:
            raise e.SessionInvalid("ends_at must be after starts_at.", field="ends_at")
        if ends_at - starts_at > MAX_SESSION_MS:
            raise e.SessionInvalid("A session lasts at most 8 hours.", field="ends_at")
        if ends_at <= now:
            raise e.SessionInvalid("The session would already be over.", field="ends_at")
        if max_participants > len(participants):
            raise e.SessionInvalid(
                "max_participants exceeds the number of invited clients.", field="max_participants"
            )
        for client_id in participants:
            if not await self._is_linked(caller.account_id, client_id):
                raise e.NotYourClient("Every participant must be one of your clients.", account_id=client_id)

    async def _visible(self, caller: Caller, session_id: str) -> Appointment:
        a = await self._store.get_appointment(session_id)
        if a is None or (caller.account_id != a.therapist_id and caller.account_id not in a.participants):
            raise e.NotInvited("No such session for you.")
        return a

    async def _hosted(self, caller: Caller, session_id: str) -> Appointment:
        a = await self._visible(caller, session_id)
        if caller.account_id != a.therapist_id:
            raise e.NotHost("Only the session's therapist can do this.")
        return a

    async def _reload(self, session_id: str) -> Appointment:
        a = await self._store.get_appointment(session_id)
        assert a is not None
        return a

    async def _state(self, a: Appointment) -> SessionState:
        if a.state != SessionState.SCHEDULED.value:
            return SessionState(a.state)
        live = await self._rooms.get_live(a.session_id)
        return live.state if live is not None else SessionState.SCHEDULED

    async def _require_live(self, a: Appointment, *, opening: bool = False) -> LiveSession | None:
        """The live session, or None when it may open now (``opening``); SessionClosed when it is over."""
        if a.state != SessionState.SCHEDULED.value:
            raise e.SessionClosed(f"This session was {a.state}.", state=a.state)
        live = await self._rooms.get_live(a.session_id)
        if live is None and not opening:
            raise e.InvalidSessionState("The waiting room is not open.", state=SessionState.SCHEDULED.value)
        return live

    def _state_error(self, state: SessionState, action: str) -> e.SessionError:
        if state.final:
            return e.SessionClosed(f"This session was {state.value}.", state=state.value)
        return e.InvalidSessionState(f"Cannot {action} a session that is {state.value}.", state=state.value)

    async def _transition(
        self, a: Appointment, account_id: str, event: ParticipantEvent, now: int, device: str | None = None
    ) -> Member:
        member = await self._rooms.get_member(a.session_id, account_id)
        if device is not None and member is not None and member.device_id != device:
            raise e.NotAdmitted("Another of your devices is in this session.")
        if member is not None and member.state is ParticipantState.REMOVED:
            raise e.ParticipantRemoved("This participant was removed from the session.")
        try:
            state = next_participant_state(member.state if member else None, event)
        except InvalidTransition as exc:
            raise e.InvalidSessionState(str(exc), state=exc.state, event=exc.event) from None
        assert member is not None  # every event but join starts from a present member
        updated = replace(member, state=state, since=now)
        await self._rooms.put_member(a.session_id, updated, self._ttl(a))
        return updated

    async def _close(self, a: Appointment, final: SessionState) -> None:
        now = self._clock()
        room = await self._room(a)
        if not await self._store.set_appointment_state(
            a.session_id, final.value, now, only_from=("scheduled",)
        ):
            raise self._state_error(SessionState((await self._reload(a.session_id)).state), final.value)
        for m in room.members:
            if ParticipantState(m.state).present and m.account_id:
                await self._store.close_attendance(a.session_id, m.account_id, now)
        await self._rooms.clear(a.session_id, (a.therapist_id, *a.participants))
        await self._events.ended(a.session_id, a.therapist_id, final.value)
        event = w.EndedEvent(a.session_id, final.value)
        for account_id in (a.therapist_id, *a.participants):
            await self._notifier.to_account(account_id, "call.ended", event)

    async def _room(self, a: Appointment) -> w.CallStateEvent:
        """The full room (every id): the therapist's view, and what ``_view`` filters for a client."""
        live = await self._rooms.get_live(a.session_id)
        members = await self._rooms.get_members(a.session_id, (a.therapist_id, *a.participants))
        state = live.state.value if live else a.state
        return w.CallStateEvent(
            a.session_id,
            state,
            [w.MemberOut(m.peer, m.state.value, m.join, m.account_id, m.device_id) for m in members],
        )

    async def _broadcast(self, a: Appointment, room: w.CallStateEvent) -> None:
        """Room changes go to the therapist (all devices) and to every present participant's device."""
        await self._notifier.to_account(a.therapist_id, "call.state", room)
        for m in room.members:
            client = m.account_id is not None and m.account_id != a.therapist_id
            if client and m.device_id and m.account_id and ParticipantState(m.state).present:
                view = room_view(a, room, m.account_id)
                await self._notifier.to_device(m.device_id, "call.state", view)

    def _mint(self, peer: str, a: Appointment, cap_s: int | None = None) -> w.TurnOut | None:
        turn = turn_out(self._turn, peer, a, self._clock(), cap_s)
        if turn is not None:
            self._events.turn_issued()
        return turn

    def _ttl(self, a: Appointment) -> float:
        return max(a.ends_at - self._clock(), 0) / 1000 + ROOM_TTL_GRACE_S
