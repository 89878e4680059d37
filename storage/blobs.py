"""Attachment blobs: opaque ciphertext streamed up by one device, fetched by the addressed devices.

The server never sees what a blob holds: the key, digest, file name and type travel inside the end-to-end
encrypted message that points at it (docs/PROTOCOL.md, "Attachments"). The store keeps the bytes plus the
routing facts needed to authorize downloads, enforce the owner's quota and delete the blob once every
addressed device fetched it or when it expires.

Life of a blob: ``begin_blob`` reserves the declared size against the owner's quota and returns a writer;
the writer streams the bytes (never held whole in memory) and ``commit`` makes the blob visible atomically
(a file is fsynced then renamed; a GridFS file document appears only once every chunk is written). Until
then nothing can be read, and ``abort`` (or an expired reservation, after a crash) removes every trace.
Adapters: files in the data directory with metadata in SQLite (``storage.sqlite.blobs``), GridFS with
metadata in a collection (``storage.mongodb.blobs``); both pass ``tests/storage/blob_contract.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from storage.errors import StorageError

__all__ = ["BlobInfo", "BlobQuotaExceeded", "BlobStore", "BlobWriter", "NewBlob"]


class BlobQuotaExceeded(StorageError):
    """The owner's stored and reserved bytes plus this blob would exceed the quota."""

    def __init__(self, used: int, quota: int) -> None:
        super().__init__(f"quota of {quota} bytes reached ({used} in use)")
        self.used = used
        self.quota = quota


@dataclass(frozen=True, slots=True)
class NewBlob:
    blob_id: str  # 32 random hex characters, chosen by the server
    owner_account: str
    owner_device: str
    to_account: str  # the conversation: this account (and the owner's account) may download
    size: int  # declared byte count; the upload must deliver exactly this many
    recipients: frozenset[str]  # devices that must fetch it before it is deleted (not the uploader)
    created_at: int
    upload_expires_at: int  # a reservation not committed by then is swept (a crash mid-upload)

    def committed(self, expires_at: int) -> BlobInfo:
        """What the blob is once its upload committed: every addressed device still to fetch it."""
        return BlobInfo(
            self.blob_id,
            self.owner_account,
            self.owner_device,
            self.to_account,
            self.size,
            self.created_at,
            expires_at,
            self.recipients,
        )


@dataclass(frozen=True, slots=True)
class BlobInfo:
    blob_id: str
    owner_account: str
    owner_device: str
    to_account: str
    size: int
    created_at: int
    expires_at: int
    pending: frozenset[str]  # addressed devices that have not fetched it yet


class BlobWriter(Protocol):
    """One upload in progress. Exactly one of ``commit`` / ``abort`` ends it."""

    @property
    def written(self) -> int: ...

    async def write(self, data: bytes) -> None: ...

    async def commit(self, expires_at: int) -> BlobInfo:
        """Make the blob durable and visible; it lives until every recipient fetched it or ``expires_at``."""
        ...

    async def abort(self) -> None:
        """Forget the upload: bytes, reservation, everything. Safe to call twice."""
        ...


class BlobStore(Protocol):
    async def begin_blob(self, blob: NewBlob, *, quota: int, now: int) -> BlobWriter:
        """Reserve ``blob.size`` bytes of the owner's ``quota`` (stored plus reserved, in one atomic step)
        and start the upload. Raises BlobQuotaExceeded (nothing reserved)."""
        ...

    async def get_blob(self, blob_id: str, now: int) -> BlobInfo | None:
        """A committed, unexpired blob; None for unknown, uncommitted or expired ones."""
        ...

    def read_blob(self, blob_id: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` (inclusive) to ``end`` (exclusive) of a committed blob, in bounded pieces.
        Raises StorageError if the bytes are gone (deleted meanwhile)."""
        ...

    async def mark_blob_fetched(self, blob_id: str, device_id: str) -> bool:
        """Record that an addressed device fetched the blob; delete the blob when it was the last one.
        True if the blob was deleted by this call."""
        ...

    async def delete_blob(self, blob_id: str, owner_account: str) -> bool:
        """The owner withdraws a committed blob (an upload cancelled after its last byte): bytes, record and
        quota share go at once. False (nothing changed) if there is no such committed blob of that owner."""
        ...

    async def get_blob_usage(self, account_id: str) -> int:
        """Bytes the account holds: committed blobs plus uploads in progress."""
        ...

    async def delete_expired_blobs(self, now: int) -> int:
        """Delete expired blobs and stale reservations (uploads a crash left behind); returns the count."""
        ...

    async def delete_blobs_of(self, account_id: str) -> int:
        """Delete every blob the account uploaded, committed or not (account erasure); returns the count."""
        ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): blobs the account uploaded or that were sent to it, and its quota
        record; idempotent."""
        ...
