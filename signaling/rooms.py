"""Live room state of a video session, kept in the Broker so that any node can serve any participant.

Keys (values are compact JSON, every key expires a while after the session's window)::

    call:<session_id>                 {"state": "open" | "in_progress", "since": ms}
    call:<session_id>:p:<account_id>  {"device_id": "...", "state": "waiting" | ..., "since": ms,
                                       "peer": "<opaque handle>", "join": "<join statement, base64>"}

``peer`` is drawn at the member's first join and kept for the session: co-participants and TURN see it,
never the account or device id. ``join`` is the device's signed statement of its current join
(docs/PROTOCOL.md §8), replaced at each rejoin; the server only stores and relays it.

One key per participant, written by the participant (join, leave, connect) or the therapist (admit,
remove): concurrent changes to different participants never overwrite each other. Changes of ONE key are
serialised per node by the service; the Broker offers no compare-and-set, so two nodes racing on the
same participant is last-writer-wins (both writes are legal transitions from the state each one read).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from signaling.states import ParticipantState, SessionState
from storage.broker import Broker

__all__ = ["LiveSession", "Member", "RoomStore"]


@dataclass(frozen=True, slots=True)
class LiveSession:
    state: SessionState
    since: int


@dataclass(frozen=True, slots=True)
class Member:
    account_id: str
    device_id: str
    state: ParticipantState
    since: int
    peer: str
    join: str


def _session_key(session_id: str) -> str:
    return f"call:{session_id}"


def _member_key(session_id: str, account_id: str) -> str:
    return f"call:{session_id}:p:{account_id}"


class RoomStore:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def get_live(self, session_id: str) -> LiveSession | None:
        raw = await self._broker.get_state(_session_key(session_id))
        if raw is None:
            return None
        doc = json.loads(raw)
        return LiveSession(SessionState(doc["state"]), int(doc["since"]))

    async def put_live(self, session_id: str, live: LiveSession, ttl_seconds: float) -> None:
        value = json.dumps({"state": live.state.value, "since": live.since}).encode()
        await self._broker.put_state(_session_key(session_id), value, ttl_seconds)

    async def get_member(self, session_id: str, account_id: str) -> Member | None:
        raw = await self._broker.get_state(_member_key(session_id, account_id))
        if raw is None:
            return None
        doc = json.loads(raw)
        return Member(
            account_id,
            str(doc["device_id"]),
            ParticipantState(doc["state"]),
            int(doc["since"]),
            str(doc["peer"]),
            str(doc["join"]),
        )

    async def put_member(self, session_id: str, member: Member, ttl_seconds: float) -> None:
        value = json.dumps(
            {
                "device_id": member.device_id,
                "state": member.state.value,
                "since": member.since,
                "peer": member.peer,
                "join": member.join,
            }
        )
        await self._broker.put_state(_member_key(session_id, member.account_id), value.encode(), ttl_seconds)

    async def get_members(self, session_id: str, account_ids: tuple[str, ...]) -> list[Member]:
        members = [await self.get_member(session_id, a) for a in account_ids]
        return [m for m in members if m is not None]

    async def clear(self, session_id: str, account_ids: tuple[str, ...]) -> None:
        for account_id in account_ids:
            await self._broker.delete_state(_member_key(session_id, account_id))
        await self._broker.delete_state(_session_key(session_id))
