"""Storage adapters under the shared contract. Adding an adapter = adding one entry to ``ADAPTERS``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from storage.protocols import Storage
from storage.sqlite import SqliteStorage
from tests.storage import _mongo


async def _sqlite(tmp_path: Path) -> Storage:
    return SqliteStorage.open(tmp_path / "sqlite")


ADAPTERS: dict[str, Callable[[Path], Awaitable[Storage]]] = {
    "sqlite": _sqlite,
    "mongo-double": _mongo.mongo_double,  # in-process test double of AsyncMongoClient, not MongoDB
    "mongo-double-transactions": _mongo.mongo_double_transactions,  # the same double, emulating transactions
    "mongodb": _mongo.mongodb,  # a real MongoDB, only when CONFIDANT_TEST_MONGODB_URI is set
}


@pytest.fixture(params=[name if name != "mongodb" else _mongo.mongodb_param() for name in sorted(ADAPTERS)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    storage = await ADAPTERS[request.param](tmp_path)
    try:
        yield storage
    finally:
        await storage.close()
