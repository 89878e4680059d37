"""Storage adapters under the shared contract. Adding an adapter = adding one entry to ``ADAPTERS``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from storage.protocols import Storage
from storage.sqlite import SqliteStorage


async def _sqlite(tmp_path: Path) -> Storage:
    return SqliteStorage.open(tmp_path / "sqlite")


ADAPTERS: dict[str, Callable[[Path], Awaitable[Storage]]] = {
    "sqlite": _sqlite,
}


@pytest.fixture(params=sorted(ADAPTERS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    storage = await ADAPTERS[request.param](tmp_path)
    try:
        yield storage
    finally:
        await storage.close()
