"""MongoDB storage adapter (PyMongo asyncio API). See docs/SCALE.md."""

from __future__ import annotations

from storage.mongodb.database import MongoStorage

__all__ = ["MongoStorage"]
