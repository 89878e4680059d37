"""The blob store contract, on every adapter of the storage port (the ``store`` fixture): files in the data
directory (SQLite), GridFS (the MongoDB double's GridFS stand-in always; a real MongoDB with the real bucket
when CONFIDANT_TEST_MONGODB_URI is set)."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from storage.blobs import BlobInfo, BlobQuotaExceeded, BlobStore, NewBlob
from storage.errors import StorageError
from storage.protocols import Storage

NOW = 1_800_000_000_000
QUOTA = 1_000_000
Opened = tuple[BlobStore, None, Callable[[], Awaitable[list[bytes]]]]


@pytest.fixture
def blobs(store: Storage) -> Opened:
    """The store's blob store and a reader of every stored byte (files, or GridFS chunks)."""
    directory = getattr(store.blobs, "directory", None)

    async def raw() -> list[bytes]:
        if directory is not None:
            return [p.read_bytes() for p in directory.rglob("*") if p.is_file()]
        chunks = store.engine["blobs.chunks"]  # type: ignore[attr-defined]
        return [bytes(c["data"]) async for c in chunks.find({})]

    return store.blobs, None, raw


def _new(size: int, owner: str | None = None, recipients: tuple[str, ...] = ("dev-b1", "dev-b2")) -> NewBlob:
    return NewBlob(
        blob_id=secrets.token_hex(16),
        owner_account=owner or secrets.token_hex(16),
        owner_device=secrets.token_hex(16),
        to_account=secrets.token_hex(16),
        size=size,
        recipients=frozenset(recipients),
        created_at=NOW,
        upload_expires_at=NOW + 3_600_000,
    )


async def _read(store: BlobStore, blob_id: str, start: int, end: int) -> bytes:
    return b"".join([piece async for piece in store.read_blob(blob_id, start, end)])


async def _upload(store: BlobStore, new: NewBlob, data: bytes, *, ttl: int = 86_400_000) -> BlobInfo:
    writer = await store.begin_blob(new, quota=QUOTA, now=NOW)
    for i in range(0, len(data), 70_000):
        await writer.write(data[i : i + 70_000])
    assert writer.written == len(data)
    return await writer.commit(NOW + ttl)


async def test_committed_blob_reads_back_whole_and_by_range(blobs: Opened) -> None:
    store, _, _ = blobs
    data = os.urandom(600_000)
    new = _new(len(data))
    info = await _upload(store, new, data)
    assert info.size == len(data) and info.pending == new.recipients
    assert await store.get_blob(new.blob_id, NOW) == info
    assert await _read(store, new.blob_id, 0, len(data)) == data
    assert await _read(store, new.blob_id, 300_001, 555_555) == data[300_001:555_555]
    assert await store.get_blob_usage(new.owner_account) == len(data)


async def test_an_upload_in_progress_is_invisible_and_abort_leaves_nothing(blobs: Opened) -> None:
    store, _, raw = blobs
    new = _new(400_000)
    writer = await store.begin_blob(new, quota=QUOTA, now=NOW)
    await writer.write(os.urandom(300_000))
    assert await store.get_blob(new.blob_id, NOW) is None
    with pytest.raises(StorageError):
        await _read(store, new.blob_id, 0, 10)
    assert await store.get_blob_usage(new.owner_account) == 400_000  # reserved while uploading
    await writer.abort()
    await writer.abort()
    assert await store.get_blob(new.blob_id, NOW) is None
    assert await store.get_blob_usage(new.owner_account) == 0
    assert await raw() == []


async def test_quota_counts_stored_and_reserved_bytes(blobs: Opened) -> None:
    store, _, _ = blobs
    owner = secrets.token_hex(16)
    await _upload(store, _new(600_000, owner), os.urandom(600_000))
    pending = await store.begin_blob(_new(300_000, owner), quota=QUOTA, now=NOW)
    with pytest.raises(BlobQuotaExceeded) as refused:
        await store.begin_blob(_new(200_000, owner), quota=QUOTA, now=NOW)
    assert refused.value.quota == QUOTA
    assert await store.get_blob_usage(owner) == 900_000
    await pending.abort()
    await _upload(store, _new(400_000, owner), os.urandom(400_000))  # fits again: exactly the quota
    assert await store.get_blob_usage(owner) == QUOTA
    other = _new(QUOTA)  # another account's quota is its own
    await _upload(store, other, os.urandom(QUOTA))


async def test_deleted_once_every_addressed_device_fetched_it(blobs: Opened) -> None:
    store, _, raw = blobs
    new = _new(1000, recipients=("dev-b1", "dev-b2"))
    await _upload(store, new, os.urandom(1000))
    assert not await store.mark_blob_fetched(new.blob_id, "dev-b1")
    assert not await store.mark_blob_fetched(new.blob_id, "dev-b1")  # twice is once
    assert not await store.mark_blob_fetched(new.blob_id, "someone-else")
    info = await store.get_blob(new.blob_id, NOW)
    assert info is not None and info.pending == {"dev-b2"}
    assert await store.mark_blob_fetched(new.blob_id, "dev-b2")
    assert await store.get_blob(new.blob_id, NOW) is None
    assert await store.get_blob_usage(new.owner_account) == 0
    assert await raw() == []


async def test_expiry_deletes_blobs_and_stale_reservations(blobs: Opened) -> None:
    store, _, raw = blobs
    kept, expired = _new(1000), _new(2000)
    await _upload(store, kept, os.urandom(1000), ttl=10_000_000)
    await _upload(store, expired, os.urandom(2000), ttl=1_000)
    crashed = _new(500)  # an upload the process never finished
    writer = await store.begin_blob(crashed, quota=QUOTA, now=NOW)
    await writer.write(os.urandom(500))
    assert await store.get_blob(expired.blob_id, NOW + 1_000) is None  # expired reads as absent at once
    assert await store.delete_expired_blobs(NOW + 5_000_000) == 2  # the expired one and the stale upload
    assert await store.get_blob(kept.blob_id, NOW) is not None
    assert await store.get_blob_usage(expired.owner_account) == 0
    assert await store.get_blob_usage(crashed.owner_account) == 0
    with pytest.raises(StorageError):
        await writer.commit(NOW + 10_000_000)  # swept while "uploading": never becomes visible
    assert await store.get_blob(crashed.blob_id, NOW) is None
    assert len(await raw()) >= 1 and all(len(r) < 1500 for r in await raw())


async def test_delete_blobs_of_an_account_erases_committed_and_pending(blobs: Opened) -> None:
    store, _, raw = blobs
    owner = secrets.token_hex(16)
    first, second, others = _new(1000, owner), _new(1000, owner), _new(700)
    await _upload(store, first, os.urandom(1000))
    await _upload(store, others, os.urandom(700))
    writer = await store.begin_blob(second, quota=QUOTA, now=NOW)
    await writer.write(os.urandom(1000))
    assert await store.delete_blobs_of(owner) == 2
    assert await store.delete_blobs_of(owner) == 0  # idempotent
    assert await store.get_blob(first.blob_id, NOW) is None
    assert await store.get_blob_usage(owner) == 0
    assert await store.get_blob(others.blob_id, NOW) is not None
    with pytest.raises(StorageError):
        await writer.commit(NOW + 10_000_000)  # erased while uploading: never becomes visible
    chunks: list[Any] = await raw()
    assert sum(len(c) for c in chunks) == 700
    assert await store.get_blob(second.blob_id, NOW) is None


async def test_erasure_deletes_blobs_from_and_to_the_account_and_its_quota(blobs: Opened) -> None:
    store, _, raw = blobs
    erased, other = secrets.token_hex(16), secrets.token_hex(16)
    sent = await _upload(store, _new(1000, erased), os.urandom(1000))
    to_erased = dataclasses.replace(_new(2000, other), to_account=erased)
    received = await _upload(store, to_erased, os.urandom(2000))
    kept = await _upload(store, _new(3000, other), os.urandom(3000))
    assert await store.erase_account(erased) == 2
    assert await store.get_blob(sent.blob_id, NOW) is None
    assert await store.get_blob(received.blob_id, NOW) is None
    assert await store.get_blob(kept.blob_id, NOW) is not None
    assert await store.get_blob_usage(erased) == 0
    assert len(await raw()) == 1
    assert await store.erase_account(erased) == 0


async def test_the_owner_withdraws_a_blob_and_no_one_else_can(blobs: Opened) -> None:
    store, _, raw = blobs
    owner = secrets.token_hex(16)
    mine, kept = _new(1000, owner), _new(700, owner)
    await _upload(store, mine, os.urandom(1000))
    await _upload(store, kept, os.urandom(700))
    assert not await store.delete_blob(mine.blob_id, mine.to_account)  # the recipient's account: not its own
    assert not await store.delete_blob(secrets.token_hex(16), owner)  # unknown id
    assert await store.get_blob(mine.blob_id, NOW) is not None
    assert await store.get_blob_usage(owner) == 1700
    assert await store.delete_blob(mine.blob_id, owner)
    assert not await store.delete_blob(mine.blob_id, owner)  # once
    assert await store.get_blob(mine.blob_id, NOW) is None
    assert await store.get_blob_usage(owner) == 700  # its share of the quota is free again
    with pytest.raises(StorageError):
        await _read(store, mine.blob_id, 0, 10)
    assert sum(len(c) for c in await raw()) == 700  # only the other blob's bytes remain
    assert await store.get_blob(kept.blob_id, NOW) is not None


async def test_an_upload_in_progress_cannot_be_withdrawn(blobs: Opened) -> None:
    store, _, _ = blobs
    new = _new(1000)
    writer = await store.begin_blob(new, quota=QUOTA, now=NOW)
    await writer.write(os.urandom(1000))
    # Cutting the connection ends an upload; a withdrawal is only for committed blobs.
    assert not await store.delete_blob(new.blob_id, new.owner_account)
    await writer.commit(NOW + 86_400_000)
    assert await store.delete_blob(new.blob_id, new.owner_account)
    assert await store.get_blob_usage(new.owner_account) == 0
