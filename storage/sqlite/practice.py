"""SQLite adapter of ``storage.practice.PracticeStore``: one row (id = 1) in ``practice_settings``."""

from __future__ import annotations

import sqlite3

from storage.practice import PracticeSettings
from storage.sqlite._engine import Engine

__all__ = ["SqlitePracticeStore"]


class SqlitePracticeStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def get_practice_settings(self) -> PracticeSettings:
        def read(conn: sqlite3.Connection) -> PracticeSettings:
            row = conn.execute(
                "SELECT require_verified_safety_numbers, updated_at FROM practice_settings WHERE id = 1"
            ).fetchone()
            return PracticeSettings() if row is None else PracticeSettings(bool(row[0]), int(row[1]))

        return await self._engine.read(read)

    async def put_practice_settings(self, settings: PracticeSettings) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO practice_settings (id, require_verified_safety_numbers, updated_at) "
                "VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "require_verified_safety_numbers = excluded.require_verified_safety_numbers, "
                "updated_at = excluded.updated_at",
                (int(settings.require_verified_safety_numbers), settings.updated_at),
            )

        await self._engine.write(write)
