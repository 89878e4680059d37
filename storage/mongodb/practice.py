"""MongoDB adapter of ``storage.practice.PracticeStore``: one document (``_id = "practice"``) in
``practice_settings``."""

from __future__ import annotations

from storage.mongodb._engine import Engine
from storage.practice import PracticeSettings

__all__ = ["MongoPracticeStore"]

_ID = "practice"


class MongoPracticeStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def get_practice_settings(self) -> PracticeSettings:
        async with self._engine.op():
            doc = await self._engine["practice_settings"].find_one({"_id": _ID})
        if doc is None:
            return PracticeSettings()
        return PracticeSettings(bool(doc["require_verified_safety_numbers"]), int(doc["updated_at"]))

    async def put_practice_settings(self, settings: PracticeSettings) -> None:
        fields = {
            "require_verified_safety_numbers": settings.require_verified_safety_numbers,
            "updated_at": settings.updated_at,
        }
        async with self._engine.op():
            await self._engine["practice_settings"].update_one({"_id": _ID}, {"$set": fields}, upsert=True)
