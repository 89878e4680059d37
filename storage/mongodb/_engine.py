"""The MongoDB engine: one client, the database handle, the transaction runner and error mapping.

Transactions. On a replica set (or sharded cluster) every multi-step write runs in ONE multi-document
transaction (``ClientSession.with_transaction``, which retries transient write conflicts) with majority
write concern, exactly where the SQLite adapter uses one transaction function. A standalone server, and the
in-process test double, have no transactions: the same step function then runs without a session, and each
store orders its steps so that constraints close the races and a retry completes what a crash left half done
(docs/SCALE.md, "Transactions"). ``Engine.transactions`` says which mode is in use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError, WriteConcernError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from storage.errors import StorageUnavailable

__all__ = ["Engine", "Session", "expire_on", "unavailable_on_driver_errors"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Session = Any  # pymongo AsyncClientSession, or None when the deployment has no transactions

# TTL indexes only clean up: every read filters on ``expires_at`` itself, since the server's TTL monitor runs
# about once a minute. The grace keeps a document whose caller-supplied clock runs behind the wall clock
# from being reaped before the caller itself considers it expired.
TTL_GRACE = timedelta(hours=1)

# Server-side errors that mean "cannot store right now" rather than "your request is wrong".
_UNAVAILABLE_CODES = frozenset({6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})


def expire_on(expires_at_ms: int) -> datetime:
    """The TTL index value for a record that expires at ``expires_at_ms`` (never earlier than now)."""
    at_ms = max(expires_at_ms, int(time.time() * 1000))
    return datetime.fromtimestamp(at_ms / 1000, UTC).replace(tzinfo=None) + TTL_GRACE


@contextmanager
def unavailable_on_driver_errors() -> Iterator[None]:
    """Map "the database cannot be reached / cannot commit" to StorageUnavailable; let the rest through."""
    try:
        yield
    except (ConnectionFailure, WriteConcernError) as exc:
        log.error("mongodb unreachable: %s", exc.__class__.__name__)
        raise StorageUnavailable("the database is unreachable; nothing was stored") from exc
    except OperationFailure as exc:
        if exc.code in _UNAVAILABLE_CODES or exc.has_error_label("TransientTransactionError"):
            log.error("mongodb cannot serve the request: code %s", exc.code)
            raise StorageUnavailable("the database cannot serve the request; nothing was stored") from exc
        raise
    except PyMongoError as exc:
        if exc.has_error_label("TransientTransactionError") or exc.has_error_label("RetryableWriteError"):
            raise StorageUnavailable("the database cannot serve the request; nothing was stored") from exc
        raise


class Engine:
    """Owns the client. ``db[name]`` gives a collection with majority write concern on a replica set."""

    def __init__(self, client: Any, database: str, *, on_start: Callable[[Engine], Awaitable[None]]) -> None:
        self.client = client
        self.database_name = database
        self.transactions = False  # known after start()
        self._db = client.get_database(database)
        self._collections: dict[str, Any] = {}
        self._on_start = on_start
        self._started = False
        self._start_lock: asyncio.Lock | None = None

    def __getitem__(self, name: str) -> Any:
        coll = self._collections.get(name)
        if coll is None:
            # Majority writes: an acknowledged send survives the loss of the primary. A standalone server
            # accepts w=majority as w=1.
            coll = self._db.get_collection(
                name, write_concern=WriteConcern("majority"), read_concern=ReadConcern("majority")
            )
            self._collections[name] = coll
        return coll

    async def start(self) -> None:
        """Once: ask the server what it is (transactions?) and create the indexes. Every operation waits
        for this, so a server that is down at boot is retried on the next request instead of failing it."""
        if self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            with unavailable_on_driver_errors():
                hello = await self.client.admin.command("hello")
                # Transactions need a replica set member or a mongos.
                self.transactions = "setName" in hello or hello.get("msg") == "isdbgrid"
                await self._on_start(self)
            self._started = True

    @asynccontextmanager
    async def op(self) -> AsyncIterator[None]:
        """Around every store operation: wait for start(), map driver errors to StorageUnavailable."""
        await self.start()
        with unavailable_on_driver_errors():
            yield

    async def run(self, step: Callable[[Session], Awaitable[T]]) -> T:
        """Run a multi-step write: in one transaction when the deployment has them, else step by step."""
        await self.start()
        with unavailable_on_driver_errors():
            if not self.transactions:
                return await step(None)
            async with self.client.start_session() as session:
                result: T = await session.with_transaction(
                    step,
                    read_concern=ReadConcern("snapshot"),
                    write_concern=WriteConcern("majority"),
                )
                return result

    async def call(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run a single-document operation (atomic on its own) with error mapping."""
        with unavailable_on_driver_errors():
            return await op()

    async def ping(self) -> None:
        async with self.op():
            await self._db.command("ping")

    async def close(self) -> None:
        await self.client.close()
