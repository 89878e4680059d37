"""The MongoDB adapter under the storage contract: against the in-process TEST DOUBLE always
(``mongo-double``: the no-transaction path; ``mongo-double-transactions``: the transaction path on the
double's emulated transactions), and against a real MongoDB when ``CONFIDANT_TEST_MONGODB_URI`` is set
(``mongodb``).

No mongod can be installed on our build machines; docs/SCALE.md gives the command that starts a replica
set (infra/docker-compose.yml) and runs this suite against it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import pytest

from storage.mongodb import MongoStorage
from storage.protocols import Storage
from tests.fixtures.gridfs_double import GridFSBucketDouble
from tests.fixtures.mongo_double import MongoClientDouble

__all__ = ["MONGODB_URI", "mongo_double", "mongo_double_transactions", "mongodb", "mongodb_param"]

MONGODB_URI = os.environ.get("CONFIDANT_TEST_MONGODB_URI", "")


class _ThrowawayMongoStorage(MongoStorage):
    """Each test gets its own database on the real server, dropped when the storage closes."""

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.engine.client.drop_database(self.engine.database_name)
        await super().close()


async def _double_storage(client: MongoClientDouble) -> MongoStorage:
    """The adapter on the MongoDB double, with the double's GridFS stand-in for the blob store."""
    bucket = GridFSBucketDouble(client, "confidant", "blobs")
    return await MongoStorage.open("mongodb://mongo-double", client=client, blob_bucket=bucket)


async def mongo_double(tmp_path: Path) -> Storage:
    return await _double_storage(MongoClientDouble())


async def mongo_double_transactions(tmp_path: Path) -> Storage:
    """The adapter's transaction path, on the double's crude emulation of transactions."""
    storage = await _double_storage(MongoClientDouble(transactions=True))
    assert storage.transactions
    return storage


async def mongodb(tmp_path: Path) -> Storage:
    database = f"confidant_contract_{secrets.token_hex(6)}"
    return await _ThrowawayMongoStorage.open(MONGODB_URI, database=database)


def mongodb_param() -> object:
    """The real-MongoDB parameter: the only skip allowed in the suite, when no server is configured."""
    return pytest.param(
        "mongodb",
        marks=pytest.mark.skipif(not MONGODB_URI,  # CONFIDANT_TEST_MONGODB_URI unset: no real server
            reason="no real MongoDB: set CONFIDANT_TEST_MONGODB_URI (docs/SCALE.md; none installable here)",
        ),
    )
