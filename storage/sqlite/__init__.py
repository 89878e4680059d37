"""The embedded SQLite backend."""

from __future__ import annotations

from storage.sqlite.database import DATABASE_FILE, SqliteStorage

__all__ = ["DATABASE_FILE", "SqliteStorage"]
