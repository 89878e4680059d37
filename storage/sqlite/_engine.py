"""The SQLite engine: one writer thread with group commit, a small pool of reader threads.

Why group commit: with ``synchronous=FULL`` every COMMIT is an fsync. Acknowledging a send only after its
commit would cap throughput at one fsync per send. Instead the writer takes every write function that is
queued, runs them all in ONE transaction (each inside its own SAVEPOINT, so a failing function is rolled
back alone and never poisons the batch), commits once, then resolves each waiting future.

Why some batches skip the savepoints: two more statements per function (SAVEPOINT, RELEASE) are most of the
writer's own work for a one-row insert, and each statement is a GIL hand-off with the event loop. A function
written with ``rerunnable=True`` only touches its connection (no Python state outside it), so a batch made
only of those runs without savepoints; if one of them raises, the whole transaction is rolled back and the
batch runs again the savepoint way (each failing function alone, as above).

Why ``then``: a callback run on the event loop as soon as the loop learns of the commit, in commit order,
whether or not anybody still awaits the write. The mailbox tail cache (server/services/mailbox_cache.py)
appends committed items there, so what it holds never has a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from storage.errors import StorageUnavailable, describe

__all__ = ["Engine"]

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteFn = Callable[[sqlite3.Connection], Any]
Then = Callable[[Any], object]

MAX_BATCH = 512  # bounds one transaction's latency; a queue longer than this commits in several batches
READERS = 4  # reads are short indexed lookups; more threads only add GIL contention


class _Job:
    __slots__ = ("fn", "future", "loop", "rerunnable", "then")

    def __init__(
        self,
        fn: WriteFn,
        future: asyncio.Future[Any],
        loop: asyncio.AbstractEventLoop,
        rerunnable: bool = False,
        then: Then | None = None,
    ) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop
        self.rerunnable = rerunnable
        self.then = then


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _settle(results: list[tuple[_Job, bool, Any]]) -> None:
    for job, ok, value in results:
        if ok and job.then is not None:  # before the waiter resumes, and even if it was cancelled
            try:
                job.then(value)
            except Exception:
                log.exception("commit callback failed")
        if job.future.done():  # the awaiting task was cancelled; the write still happened
            continue
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)


class Engine:
    """Owns every connection to one database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._writer_conn = _connect(path)
        self._writer_conn.execute("PRAGMA journal_mode=WAL")
        self._closed = False
        self._thread = threading.Thread(target=self._run_writer, name="sqlite-writer", daemon=True)
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="sqlite-reader")
        self._pending_reads: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._pending_writes: dict[asyncio.AbstractEventLoop, list[_Job]] = {}

    @property
    def writer_connection(self) -> sqlite3.Connection:
        """For migrations only, before ``start()``."""
        return self._writer_conn

    def start(self) -> None:
        self._thread.start()

    async def write(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        rerunnable: bool = False,
        then: Callable[[T], object] | None = None,
    ) -> T:
        """Run ``fn`` in the next group-committed transaction; return once it is durable. Writes requested
        in the same event-loop iteration (a batch of sends, and other sends in flight) are handed to the
        writer thread together: one queue hand-off (one thread wake-up) per iteration, not one per write.
        ``rerunnable``: ``fn`` has no effect outside its connection (it may run twice, the first run rolled
        back); ``then(result)`` runs on the loop once committed, in commit order (module docstring)."""
        if self._closed:
            raise StorageUnavailable("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        pending = self._pending_writes.get(loop)
        if pending is None:
            pending = self._pending_writes[loop] = []
            loop.call_soon(self._flush_writes, loop)
        pending.append(_Job(fn, future, loop, rerunnable, then))
        return await future

    def _flush_writes(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending_writes.pop(loop, [])
        if batch:
            self._queue.put(batch)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on a reader thread. Reads requested in the same event-loop iteration (the concurrent
        lookups of one send, and those of other sends in flight) share one thread hop: the hop, not the
        indexed lookup, is what costs on the hot path."""
        if self._closed:
            raise StorageUnavailable("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        pending = self._pending_reads.get(loop)
        if pending is None:
            pending = self._pending_reads[loop] = []
            loop.call_soon(self._flush_reads, loop)
        pending.append(_Job(fn, future, loop))
        return await future

    def _flush_reads(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending_reads.pop(loop, [])
        try:
            self._readers.submit(self._run_reads, batch, loop)
        except RuntimeError:  # the executor was shut down: the database is closed
            failure = StorageUnavailable("the database is closed")
            _settle([(job, False, failure) for job in batch])

    def _run_reads(self, batch: list[_Job], loop: asyncio.AbstractEventLoop) -> None:
        results: list[tuple[_Job, bool, Any]] = []
        try:
            conn = self._reader_connection()
        except sqlite3.Error as exc:
            failure = StorageUnavailable(f"database read failed: {describe(exc)}")
            results = [(job, False, failure) for job in batch]
        else:
            for job in batch:
                try:
                    results.append((job, True, job.fn(conn)))
                except sqlite3.Error as exc:
                    failure = StorageUnavailable(f"database read failed: {describe(exc)}")
                    results.append((job, False, failure))
                except Exception as exc:
                    results.append((job, False, exc))
        with contextlib.suppress(RuntimeError):  # that event loop is closed; nobody is waiting any more
            loop.call_soon_threadsafe(_settle, results)

    def _reader_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    def _hand_over_pending_writes(self) -> None:
        for loop in list(self._pending_writes):
            self._flush_writes(loop)

    def _run_writer(self) -> None:
        conn = self._writer_conn
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = list(first)
            while len(batch) < MAX_BATCH:  # a hand-off may overshoot it: each one is one loop iteration's
                try:
                    jobs = self._queue.get_nowait()
                except queue.Empty:
                    break
                if jobs is None:
                    stopping = True
                    break
                batch.extend(jobs)
            try:
                self._run_batch(conn, batch)
            except Exception:  # a bug here must fail the batch, never leave its callers waiting for ever
                log.exception("sqlite writer failed")
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                failure = StorageUnavailable("the database writer failed; nothing was stored")
                for job in batch:
                    with contextlib.suppress(RuntimeError):
                        job.loop.call_soon_threadsafe(_settle, [(job, False, failure)])
        # Anything queued after close() was requested fails instead of hanging forever.
        while True:
            try:
                jobs = self._queue.get_nowait()
            except queue.Empty:
                break
            for job in jobs or []:
                exc = StorageUnavailable("the database is closed")
                with contextlib.suppress(RuntimeError):
                    job.loop.call_soon_threadsafe(_settle, [(job, False, exc)])

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        results: list[tuple[_Job, bool, Any]] | None = None
        try:
            if all(job.rerunnable for job in batch):
                results = self._run_plain(conn, batch)
            if results is None:
                results = self._run_savepoints(conn, batch)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.error("sqlite write batch failed: %s", describe(exc))
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            failure = StorageUnavailable("the database could not commit; nothing was stored")
            results = [(job, False, failure) for job in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, bool, Any]]] = {}
        for item in results:
            by_loop.setdefault(item[0].loop, []).append(item)
        for loop, items in by_loop.items():
            # RuntimeError: that event loop is closed; nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, items)

    @staticmethod
    def _run_plain(conn: sqlite3.Connection, batch: list[_Job]) -> list[tuple[_Job, bool, Any]] | None:
        """Every job in one transaction, no savepoints; None (rolled back) as soon as one raises."""
        conn.execute("BEGIN IMMEDIATE")
        results: list[tuple[_Job, bool, Any]] = []
        for job in batch:
            try:
                results.append((job, True, job.fn(conn)))
            except Exception:  # run again the savepoint way: this job fails alone, the others commit
                with contextlib.suppress(sqlite3.Error):  # an I/O error may have ended the transaction
                    conn.execute("ROLLBACK")
                return None
        return results

    @staticmethod
    def _run_savepoints(conn: sqlite3.Connection, batch: list[_Job]) -> list[tuple[_Job, bool, Any]]:
        """Every job in one transaction, each in its own savepoint: a failing job is rolled back alone."""
        results: list[tuple[_Job, bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        for job in batch:
            conn.execute("SAVEPOINT job")
            try:
                value = job.fn(conn)
            except sqlite3.OperationalError as exc:
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                failed = StorageUnavailable(f"database write failed: {describe(exc)}")
                results.append((job, False, failed))
            except Exception as exc:  # an application-level refusal: roll back this job only
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                results.append((job, False, exc))
            else:
                conn.execute("RELEASE job")
                results.append((job, True, value))
        return results

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._hand_over_pending_writes()  # queued this iteration: committed before the writer stops
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._readers.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        self._writer_conn.close()

    def close_sync(self) -> None:
        """For synchronous callers (the CLI) that never started an event loop around this engine."""
        if self._closed:
            return
        self._closed = True
        self._hand_over_pending_writes()  # queued this iteration: committed before the writer stops
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join()
        self._readers.shutdown(wait=True)
        for conn in self._reader_conns:
            conn.close()
        self._writer_conn.close()
