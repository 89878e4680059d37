"""``storage.blobs.BlobStore`` for the scaled deployment: bytes in GridFS (bucket ``blobs``), facts in
``blob_meta``.

Every node streams to and from the same replica set, so a blob uploaded through one node downloads through
any other. GridFS writes the chunks first and the file document last (on ``close``), and a download opens the
file document: an upload cut midway is never served, and ``abort`` deletes its chunks.

The quota is one counter document per account (``blob_usage``), raised by a single conditional ``$inc`` that
only matches while the new total stays within the quota: concurrent uploads on different nodes cannot both
pass, without a transaction. Deleting a blob removes its metadata first (so it is no longer served), then its
GridFS chunks, then gives the bytes back to the counter. ``blob_meta`` has no TTL index: the server's TTL
monitor would drop the metadata but leave the bytes and the quota; the sweeper deletes all three.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.write_concern import WriteConcern

from storage.blobs import BlobInfo, BlobQuotaExceeded, NewBlob
from storage.errors import StorageError
from storage.mongodb._engine import Engine

__all__ = ["BUCKET", "MongoBlobStore"]

BUCKET = "blobs"
_CHUNK = 255 * 1024  # GridFS default chunk size: below the 16 MiB document limit, few round trips
_READ_PIECE = 256 * 1024


def _info(d: dict[str, Any]) -> BlobInfo:
    return BlobInfo(
        blob_id=d["_id"],
        owner_account=d["owner_account"],
        owner_device=d["owner_device"],
        to_account=d["to_account"],
        size=int(d["size"]),
        created_at=int(d["created_at"]),
        expires_at=int(d["expires_at"]),
        pending=frozenset(d.get("pending", [])),
    )


class MongoBlobStore:
    """``bucket`` replaces the real GridFS bucket (tests pass the MongoDB double's stand-in)."""

    def __init__(self, engine: Engine, *, bucket: Any | None = None) -> None:
        self._engine = engine
        self._bucket = bucket

    def bucket(self) -> Any:
        if self._bucket is None:
            db = self._engine.client.get_database(self._engine.database_name)
            self._bucket = AsyncGridFSBucket(
                db, bucket_name=BUCKET, chunk_size_bytes=_CHUNK, write_concern=WriteConcern("majority")
            )
        return self._bucket

    async def begin_blob(self, blob: NewBlob, *, quota: int, now: int) -> _GridWriter:
        usage = self._engine["blob_usage"]
        async with self._engine.op():
            await usage.update_one({"_id": blob.owner_account}, {"$setOnInsert": {"used": 0}}, upsert=True)
            raised = await usage.find_one_and_update(
                {"_id": blob.owner_account, "used": {"$lte": quota - blob.size}},
                {"$inc": {"used": blob.size}},
            )
            if raised is None:
                current = await usage.find_one({"_id": blob.owner_account})
                raise BlobQuotaExceeded(int((current or {}).get("used", 0)), quota)
            await self._engine["blob_meta"].insert_one(
                {
                    "_id": blob.blob_id,
                    "owner_account": blob.owner_account,
                    "owner_device": blob.owner_device,
                    "to_account": blob.to_account,
                    "size": blob.size,
                    "state": "pending",
                    "created_at": blob.created_at,
                    "expires_at": blob.upload_expires_at,
                    "pending": sorted(blob.recipients),
                }
            )
            stream = self.bucket().open_upload_stream_with_id(
                blob.blob_id, blob.blob_id, chunk_size_bytes=_CHUNK
            )
        return _GridWriter(self, blob, stream)

    async def get_blob(self, blob_id: str, now: int) -> BlobInfo | None:
        async with self._engine.op():
            doc = await self._engine["blob_meta"].find_one(
                {"_id": blob_id, "state": "ready", "expires_at": {"$gt": now}}
            )
        return None if doc is None else _info(doc)

    async def read_blob(self, blob_id: str, start: int, end: int) -> AsyncIterator[bytes]:
        async with self._engine.op():
            try:
                stream = await self.bucket().open_download_stream(blob_id)
            except NoFile:
                raise StorageError("the blob is gone") from None
            await stream.seek(start)
        left = end - start
        try:
            while left > 0:
                async with self._engine.op():
                    piece = await stream.read(min(_READ_PIECE, left))
                if not piece:
                    raise StorageError("the blob is shorter than recorded")
                left -= len(piece)
                yield piece
        finally:
            await stream.close()

    async def mark_blob_fetched(self, blob_id: str, device_id: str) -> bool:
        meta = self._engine["blob_meta"]
        async with self._engine.op():
            after = await meta.find_one_and_update(
                {"_id": blob_id, "state": "ready", "pending": device_id},
                {"$pull": {"pending": device_id}},
                return_document=True,
            )
        if after is None or after.get("pending"):
            return False
        return await self._delete(after) > 0

    async def delete_blob(self, blob_id: str, owner_account: str) -> bool:
        async with self._engine.op():
            doc = await self._engine["blob_meta"].find_one(
                {"_id": blob_id, "owner_account": owner_account, "state": "ready"}
            )
        return doc is not None and await self._delete(doc) > 0

    async def get_blob_usage(self, account_id: str) -> int:
        async with self._engine.op():
            doc = await self._engine["blob_usage"].find_one({"_id": account_id})
        return int((doc or {}).get("used", 0))

    async def delete_expired_blobs(self, now: int) -> int:
        return await self._delete_matching({"expires_at": {"$lte": now}})

    async def delete_blobs_of(self, account_id: str) -> int:
        return await self._delete_matching({"owner_account": account_id})

    async def erase_account(self, account_id: str) -> int:
        either = [{"owner_account": account_id}, {"to_account": account_id}]
        count = await self._delete_matching({"$or": either})
        async with self._engine.op():  # the quota counter is keyed by the account id
            await self._engine["blob_usage"].delete_one({"_id": account_id})
        return count

    async def _delete_matching(self, query: dict[str, Any]) -> int:
        async with self._engine.op():
            docs = await self._engine["blob_meta"].find(query).to_list(None)
        count = 0
        for doc in docs:
            count += await self._delete(doc)
        return count

    async def _delete(self, doc: dict[str, Any]) -> int:
        """Metadata, then chunks, then the quota: whoever removes the metadata document does the rest."""
        async with self._engine.op():
            gone = await self._engine["blob_meta"].delete_one({"_id": doc["_id"]})
            if not gone.deleted_count:
                return 0
            with contextlib.suppress(NoFile):
                await self.bucket().delete(doc["_id"])
            await self._engine["blob_usage"].update_one(
                {"_id": doc["owner_account"]}, {"$inc": {"used": -int(doc["size"])}}
            )
        return 1

    async def _commit(self, blob: NewBlob, expires_at: int) -> BlobInfo:
        async with self._engine.op():
            marked = await self._engine["blob_meta"].update_one(
                {"_id": blob.blob_id, "state": "pending"},
                {"$set": {"state": "ready", "expires_at": expires_at}},
            )
            if not marked.modified_count:
                # Swept or erased while uploading: the bytes must not outlive their metadata.
                with contextlib.suppress(NoFile):
                    await self.bucket().delete(blob.blob_id)
                raise StorageError("the upload was cancelled by the server")
        return blob.committed(expires_at)

    async def _forget(self, blob: NewBlob) -> None:
        async with self._engine.op():
            doc = await self._engine["blob_meta"].find_one({"_id": blob.blob_id})
        if doc is not None:
            await self._delete(doc)


class _GridWriter:
    def __init__(self, store: MongoBlobStore, blob: NewBlob, stream: Any) -> None:
        self._store = store
        self._blob = blob
        self._stream = stream
        self._written = 0
        self._done = False

    @property
    def written(self) -> int:
        return self._written

    async def write(self, data: bytes) -> None:
        async with self._store._engine.op():
            await self._stream.write(data)
        self._written += len(data)

    async def commit(self, expires_at: int) -> BlobInfo:
        if self._done:
            raise StorageError("the upload is already finished")
        try:
            async with self._store._engine.op():
                await self._stream.close()  # writes the file document: the blob exists from here on
        except BaseException:
            await self.abort()
            raise
        self._done = True
        return await self._store._commit(self._blob, expires_at)

    async def abort(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(Exception):
            await self._stream.abort()
        await self._store._forget(self._blob)
