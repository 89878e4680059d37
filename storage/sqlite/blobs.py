"""``storage.blobs.BlobStore`` for the embedded backend: bytes as files in the data dir, facts in SQLite.

    <data_dir>/blobs/tmp/<blob_id>.part   an upload in progress (never served)
    <data_dir>/blobs/<blob_id[:2]>/<blob_id>   a committed blob

Commit = fsync the file, rename it into place, fsync the directory, then mark the row committed: a crash at
any point leaves either no visible blob or a complete one. A row still ``pending`` past its upload deadline
(the process died mid-upload) is swept with its file. Like the appointment tables, the blob tables are created
by this module (``IF NOT EXISTS``) on first use, apart from the relay schema's ``PRAGMA user_version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, cast

from storage.blobs import BlobInfo, BlobQuotaExceeded, NewBlob
from storage.errors import StorageError, StorageUnavailable
from storage.sqlite._engine import Engine

__all__ = ["BLOB_DIRECTORY", "SqliteBlobStore"]

BLOB_DIRECTORY = "blobs"
_WRITE_BUFFER = 1024 * 1024  # bytes gathered before one write() off the event loop
_READ_PIECE = 256 * 1024  # bytes per read() off the event loop: bounded memory per download


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SqliteBlobStore:
    def __init__(self, engine: Engine, directory: Path) -> None:
        self._engine = engine
        self.directory = directory
        self._tmp = directory / "tmp"

    def _final(self, blob_id: str) -> Path:
        return self.directory / blob_id[:2] / blob_id

    def _part(self, blob_id: str) -> Path:
        return self._tmp / f"{blob_id}.part"

    async def begin_blob(self, blob: NewBlob, *, quota: int, now: int) -> _FileWriter:

        def reserve(conn: sqlite3.Connection) -> None:
            # One write transaction: two concurrent uploads cannot both pass the quota check.
            (used,) = conn.execute(
                "SELECT COALESCE(SUM(size), 0) FROM blobs WHERE owner_account = ?", (blob.owner_account,)
            ).fetchone()
            if used + blob.size > quota:
                raise BlobQuotaExceeded(int(used), quota)
            conn.execute(
                "INSERT INTO blobs (blob_id, owner_account, owner_device, to_account, size, state, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    blob.blob_id,
                    blob.owner_account,
                    blob.owner_device,
                    blob.to_account,
                    blob.size,
                    blob.created_at,
                    blob.upload_expires_at,
                ),
            )
            conn.executemany(
                "INSERT INTO blob_pending (blob_id, device_id) VALUES (?, ?)",
                [(blob.blob_id, d) for d in sorted(blob.recipients)],
            )

        await self._engine.write(reserve)
        try:
            handle = cast(BinaryIO, await asyncio.to_thread(open, self._part(blob.blob_id), "wb"))
        except OSError as exc:
            await self._delete_rows([blob.blob_id])
            raise StorageUnavailable(f"cannot create a blob file: {exc.strerror}") from exc
        return _FileWriter(self, blob, handle)

    async def get_blob(self, blob_id: str, now: int) -> BlobInfo | None:

        def read(conn: sqlite3.Connection) -> BlobInfo | None:
            row = conn.execute(
                "SELECT owner_account, owner_device, to_account, size, created_at, expires_at FROM blobs "
                "WHERE blob_id = ? AND state = 'ready' AND expires_at > ?",
                (blob_id, now),
            ).fetchone()
            if row is None:
                return None
            pending = conn.execute("SELECT device_id FROM blob_pending WHERE blob_id = ?", (blob_id,))
            owner, device, to, size, created, expires = row
            return BlobInfo(
                blob_id, owner, device, to, size, created, expires, frozenset(r[0] for r in pending)
            )

        return await self._engine.read(read)

    async def read_blob(self, blob_id: str, start: int, end: int) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(open, self._final(blob_id), "rb")
        except FileNotFoundError:
            raise StorageError("the blob is gone") from None
        try:
            await asyncio.to_thread(handle.seek, start)
            left = end - start
            while left > 0:
                piece = await asyncio.to_thread(handle.read, min(_READ_PIECE, left))
                if not piece:
                    raise StorageError("the blob file is shorter than recorded")
                left -= len(piece)
                yield piece
        finally:
            handle.close()

    async def mark_blob_fetched(self, blob_id: str, device_id: str) -> bool:

        def mark(conn: sqlite3.Connection) -> bool:
            done = conn.execute(
                "DELETE FROM blob_pending WHERE blob_id = ? AND device_id = ?", (blob_id, device_id)
            ).rowcount
            if not done:
                return False
            (left,) = conn.execute(
                "SELECT COUNT(*) FROM blob_pending WHERE blob_id = ?", (blob_id,)
            ).fetchone()
            if left:
                return False
            return (
                conn.execute("DELETE FROM blobs WHERE blob_id = ? AND state = 'ready'", (blob_id,)).rowcount
                > 0
            )

        deleted = await self._engine.write(mark)
        if deleted:
            await self._unlink([blob_id])
        return deleted

    async def delete_blob(self, blob_id: str, owner_account: str) -> bool:
        return (
            await self._delete_where(
                "blob_id = ? AND owner_account = ? AND state = 'ready'", (blob_id, owner_account)
            )
            > 0
        )

    async def get_blob_usage(self, account_id: str) -> int:

        def read(conn: sqlite3.Connection) -> int:
            (used,) = conn.execute(
                "SELECT COALESCE(SUM(size), 0) FROM blobs WHERE owner_account = ?", (account_id,)
            ).fetchone()
            return int(used)

        return await self._engine.read(read)

    async def delete_expired_blobs(self, now: int) -> int:
        return await self._delete_where("expires_at <= ?", (now,))

    async def delete_blobs_of(self, account_id: str) -> int:
        return await self._delete_where("owner_account = ?", (account_id,))

    async def erase_account(self, account_id: str) -> int:
        return await self._delete_where("owner_account = ? OR to_account = ?", (account_id, account_id))

    async def _delete_where(self, where: str, args: tuple[object, ...]) -> int:
        def delete(conn: sqlite3.Connection) -> list[str]:
            ids = [r[0] for r in conn.execute(f"SELECT blob_id FROM blobs WHERE {where}", args)]
            conn.executemany("DELETE FROM blobs WHERE blob_id = ?", [(i,) for i in ids])
            return ids

        ids = await self._engine.write(delete)
        # Rows first, files second: a crash in between leaves an unreferenced file, never a row whose bytes
        # are missing. A pending upload's writer notices its row is gone when it commits.
        await self._unlink(ids)
        return len(ids)

    async def _delete_rows(self, ids: list[str]) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM blobs WHERE blob_id = ?", [(i,) for i in ids])

        await self._engine.write(delete)

    async def _unlink(self, ids: list[str]) -> None:
        def unlink() -> None:
            for blob_id in ids:
                for path in (self._final(blob_id), self._part(blob_id)):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()

        if ids:
            await asyncio.to_thread(unlink)

    async def _commit(self, blob: NewBlob, expires_at: int) -> BlobInfo:
        part, final = self._part(blob.blob_id), self._final(blob.blob_id)

        def publish() -> None:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, final)
            _fsync_dir(final.parent)

        try:
            await asyncio.to_thread(publish)
        except FileNotFoundError:
            raise StorageError("the upload was cancelled by the server") from None  # swept meanwhile

        def mark(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE blobs SET state = 'ready', expires_at = ? "
                    "WHERE blob_id = ? AND state = 'pending'",
                    (expires_at, blob.blob_id),
                ).rowcount
                > 0
            )

        if not await self._engine.write(mark):
            # Swept or erased while uploading: the file must not outlive its row.
            await self._unlink([blob.blob_id])
            raise StorageError("the upload was cancelled by the server")
        return blob.committed(expires_at)

    def remove_leftovers(self) -> None:
        """At open, before serving: partial files of uploads a crash cut (their rows expire and go)."""
        if self._tmp.exists():
            shutil.rmtree(self._tmp)
        self._tmp.mkdir(parents=True, exist_ok=True)


class _FileWriter:
    def __init__(self, store: SqliteBlobStore, blob: NewBlob, handle: BinaryIO) -> None:
        self._store = store
        self._blob = blob
        self._handle = handle
        self._buffer = bytearray()
        self._written = 0
        self._done = False

    @property
    def written(self) -> int:
        return self._written

    async def write(self, data: bytes) -> None:
        self._buffer += data
        self._written += len(data)
        if len(self._buffer) >= _WRITE_BUFFER:
            await self._drain()

    async def _drain(self) -> None:
        chunk, self._buffer = bytes(self._buffer), bytearray()
        try:
            await asyncio.to_thread(self._handle.write, chunk)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write the blob: {exc.strerror}") from exc

    async def commit(self, expires_at: int) -> BlobInfo:
        if self._done:
            raise StorageError("the upload is already finished")
        try:
            await self._drain()

            def sync() -> None:
                self._handle.flush()
                os.fsync(self._handle.fileno())
                self._handle.close()

            await asyncio.to_thread(sync)
        except OSError as exc:
            await self.abort()
            raise StorageUnavailable(f"cannot store the blob: {exc.strerror}") from exc
        self._done = True
        return await self._store._commit(self._blob, expires_at)

    async def abort(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._handle.close()
        await self._store._unlink([self._blob.blob_id])
        await self._store._delete_rows([self._blob.blob_id])
