"""MongoDB adapter of ``storage.appointments.AppointmentStore``: the durable schedule and attendance of video
sessions (never media, never content). Live room state is in the Broker.

One document per appointment (``_id = session_id``, participants as a sorted array), one per attendance
row. Every state change is ONE conditional single-document update, so a concurrent cancel, end or reschedule
wins or loses as a whole without a transaction. An open attendance row carries ``open_key`` under a unique
sparse index, which closes the race of two devices joining at once; closing it removes the key.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.appointments import Appointment, Attendance, DurableState, Reschedule
from storage.mongodb._engine import Engine
from storage.mongodb.erasure import erase

__all__ = ["MongoAppointmentStore"]


def _appointment(d: dict[str, Any]) -> Appointment:
    return Appointment(
        session_id=d["_id"],
        therapist_id=d["therapist_id"],
        participants=tuple(d["participants"]),
        starts_at=int(d["starts_at"]),
        ends_at=int(d["ends_at"]),
        max_participants=int(d["max_participants"]),
        state=d["state"],
        created_at=int(d["created_at"]),
        updated_at=int(d["updated_at"]),
        started_at=d.get("started_at"),
        ended_at=d.get("ended_at"),
    )


def _open_key(session_id: str, account_id: str) -> str:
    return f"{session_id}:{account_id}"


class MongoAppointmentStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "appointments", account_id)

    async def delete_appointments_ended_before(self, cutoff: int) -> int:
        async with self._engine.op():
            old = await self._engine["appointments"].find(
                {"ends_at": {"$lt": cutoff}}, projection={"_id": 1}
            ).to_list(None)
            sessions = [d["_id"] for d in old]
            await self._engine["appointment_attendance"].delete_many({"session_id": {"$in": sessions}})
            result = await self._engine["appointments"].delete_many({"_id": {"$in": sessions}})
        return int(result.deleted_count)

    async def add_appointment(self, appointment: Appointment) -> None:
        a = appointment
        async with self._engine.op():
            await self._engine["appointments"].insert_one(
                {
                    "_id": a.session_id,
                    "therapist_id": a.therapist_id,
                    "participants": sorted(a.participants),
                    "starts_at": a.starts_at,
                    "ends_at": a.ends_at,
                    "max_participants": a.max_participants,
                    "state": a.state,
                    "created_at": a.created_at,
                    "updated_at": a.updated_at,
                    "started_at": a.started_at,
                    "ended_at": a.ended_at,
                }
            )

    async def get_appointment(self, session_id: str) -> Appointment | None:
        async with self._engine.op():
            doc = await self._engine["appointments"].find_one({"_id": session_id})
        return None if doc is None else _appointment(doc)

    async def get_appointments_of(self, account_id: str, *, ends_after: int, limit: int) -> list[Appointment]:
        async with self._engine.op():
            cursor = self._engine["appointments"].find(
                {
                    "ends_at": {"$gt": ends_after},
                    "$or": [{"therapist_id": account_id}, {"participants": account_id}],
                }
            )
            docs = (
                await cursor.sort([("starts_at", ASCENDING), ("_id", ASCENDING)]).limit(limit).to_list(None)
            )
        return [_appointment(d) for d in docs]

    async def update_appointment(self, session_id: str, change: Reschedule, now: int) -> Appointment | None:
        async with self._engine.op():
            doc = await self._engine["appointments"].find_one_and_update(
                {"_id": session_id, "state": "scheduled"},
                {
                    "$set": {
                        "starts_at": change.starts_at,
                        "ends_at": change.ends_at,
                        "max_participants": change.max_participants,
                        "participants": sorted(change.participants),
                        "updated_at": now,
                    }
                },
                return_document=ReturnDocument.AFTER,
            )
        return None if doc is None else _appointment(doc)

    async def set_appointment_state(
        self, session_id: str, state: DurableState, now: int, *, only_from: tuple[DurableState, ...]
    ) -> bool:
        async with self._engine.op():
            result = await self._engine["appointments"].update_one(
                {"_id": session_id, "state": {"$in": list(only_from)}},
                {
                    "$set": {
                        "state": state,
                        "updated_at": now,
                        "ended_at": now if state in ("ended", "cancelled") else None,
                    }
                },
            )
        return bool(result.matched_count == 1)

    async def mark_appointment_started(self, session_id: str, now: int) -> None:
        async with self._engine.op():
            await self._engine["appointments"].update_one(
                {"_id": session_id, "started_at": None}, {"$set": {"started_at": now}}
            )

    async def add_attendance(self, session_id: str, account_id: str, joined_at: int) -> None:
        # A duplicate open_key: already open (a rejoin, or another device of the same account).
        async with self._engine.op():
            with contextlib.suppress(DuplicateKeyError):
                await self._engine["appointment_attendance"].insert_one(
                    {
                        "session_id": session_id,
                        "account_id": account_id,
                        "joined_at": joined_at,
                        "left_at": None,
                        "open_key": _open_key(session_id, account_id),
                    }
                )

    async def close_attendance(self, session_id: str, account_id: str, left_at: int) -> None:
        async with self._engine.op():
            await self._engine["appointment_attendance"].update_one(
                {"open_key": _open_key(session_id, account_id)},
                {"$set": {"left_at": left_at}, "$unset": {"open_key": ""}},
            )

    async def get_attendance(self, session_id: str) -> list[Attendance]:
        async with self._engine.op():
            cursor = self._engine["appointment_attendance"].find({"session_id": session_id})
            docs = await cursor.sort([("joined_at", ASCENDING), ("_id", ASCENDING)]).to_list(None)
        return [
            Attendance(d["session_id"], d["account_id"], int(d["joined_at"]), d.get("left_at")) for d in docs
        ]
