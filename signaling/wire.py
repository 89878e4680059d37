"""Wire shapes of video sessions (docs/API.md "Video sessions"): HTTP bodies, socket payloads and events.

Unknown fields are rejected. ``payload`` of ``call.signal`` is a boxed signal (docs/PROTOCOL.md §8,
standard base64): the server checks who may send to whom and the size, never the content.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

__all__ = [
    "AdmittedEvent",
    "AttendanceItemOut",
    "AttendanceOut",
    "CallJoinOut",
    "CallStateEvent",
    "CreateSessionIn",
    "EndedEvent",
    "IceServerOut",
    "JoinIn",
    "MediaIn",
    "MemberOut",
    "ParticipantIn",
    "RemovedEvent",
    "RescheduleIn",
    "SessionIdIn",
    "SessionOut",
    "SessionsOut",
    "SignalEvent",
    "SignalIn",
    "TurnOut",
    "WaitingEvent",
]

HexId = Annotated[str, Meta(pattern="^[0-9a-f]{32}$", description="16 random bytes as 32 lowercase hex")]
Millis = Annotated[int, Meta(ge=0, le=2**53, description="milliseconds since the Unix epoch")]
MaxParticipants = Annotated[
    int, Meta(ge=1, le=8, description="clients admitted at once (therapist excluded)")
]
# A join statement (docs/PROTOCOL.md §8): 112 bytes, standard base64 with padding.
JoinStatement = Annotated[
    str, Meta(pattern="^[A-Za-z0-9+/]{150}==$", description="signed join statement (112 bytes), base64")
]
# A boxed aiortc/Chromium offer: 32 KiB of plaintext + 65 bytes of box overhead, in base64.
SignalPayload = Annotated[str, Meta(min_length=4, max_length=44_000, description="boxed signal, base64")]


class _In(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class _Out(msgspec.Struct, frozen=True):
    pass


# --- HTTP ---------------------------------------------------------------------------------------------------
class CreateSessionIn(_In, frozen=True):
    participants: Annotated[list[HexId], Meta(min_length=1, max_length=8)]
    starts_at: Millis
    ends_at: Millis
    max_participants: MaxParticipants | None = None


class RescheduleIn(_In, frozen=True):
    starts_at: Millis | None = None
    ends_at: Millis | None = None
    participants: Annotated[list[HexId], Meta(min_length=1, max_length=8)] | None = None
    max_participants: MaxParticipants | None = None


class SessionOut(_Out, frozen=True):
    session_id: str
    therapist_id: str
    participants: list[str]  # the therapist sees every client; a client sees only itself
    participant_count: int  # invited clients, so a client knows it is a group session
    starts_at: int
    ends_at: int
    max_participants: int
    state: str  # scheduled | open | in_progress | ended | cancelled
    created_at: int
    updated_at: int
    started_at: int | None
    ended_at: int | None


class SessionsOut(_Out, frozen=True):
    sessions: list[SessionOut]


class AttendanceItemOut(_Out, frozen=True):
    account_id: str
    joined_at: int
    left_at: int | None


class AttendanceOut(_Out, frozen=True):
    attendance: list[AttendanceItemOut]


class IceServerOut(_Out, frozen=True):
    urls: list[str]
    username: str
    credential: str


class TurnOut(_Out, frozen=True):
    ice_servers: list[IceServerOut]
    expires_at: int


# --- socket.io: client -> server ----------------------------------------------------------------------------
class SessionIdIn(_In, frozen=True):
    session_id: HexId


class JoinIn(_In, frozen=True):
    session_id: HexId
    join: JoinStatement  # this device's fresh join (ephemeral key signed by its identity key)


class ParticipantIn(_In, frozen=True):
    session_id: HexId
    account_id: HexId


class SignalIn(_In, frozen=True):
    session_id: HexId
    to_peer: HexId  # the addressee's opaque handle in this session (``MemberOut.peer``)
    payload: SignalPayload


class MediaIn(_In, frozen=True):
    session_id: HexId
    connected: bool


# --- socket.io: acks and server -> client events ------------------------------------------------------------
class MemberOut(_Out, frozen=True):
    peer: str  # opaque handle, stable for the session
    state: str  # waiting | admitted | connected | away | left | removed
    join: str | None  # the device's current join statement (base64), for sealing signals to it
    # Only for the therapist, the member itself, and the therapist's own entry: a client never learns
    # its co-participants' account or device ids (the therapist introduces them, end to end).
    account_id: str | None = None
    device_id: str | None = None


class CallStateEvent(_Out, frozen=True):
    session_id: str
    state: str
    members: list[MemberOut]


class CallJoinOut(_Out, frozen=True):
    state: str  # the caller's participant state: waiting | admitted
    session: SessionOut
    room: CallStateEvent
    turn: TurnOut | None  # for admitted participants (the therapist at once; clients in call.admitted)


class WaitingEvent(_Out, frozen=True):
    session_id: str
    account_id: str
    device_id: str


class AdmittedEvent(_Out, frozen=True):
    session_id: str
    room: CallStateEvent
    turn: TurnOut | None


class RemovedEvent(_Out, frozen=True):
    session_id: str


class EndedEvent(_Out, frozen=True):
    session_id: str
    state: str  # ended | cancelled


class SignalEvent(_Out, frozen=True):
    session_id: str
    from_peer: str
    join: str  # the sender's current join statement: the receiver verifies it under the key it pinned
    payload: str
