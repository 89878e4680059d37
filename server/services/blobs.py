"""Attachment blobs: who may upload to whom, size and quota, who may download, when a blob is deleted.

The server stores opaque ciphertext only (docs/PROTOCOL.md, "Attachments"); the key, digest, name and type
travel inside an end-to-end encrypted message. Rules:

- an upload names the conversation (``to``): the caller's own account, or an account it may message (linked,
  reachable, consent as for a send). Its size is declared up front and must lie within the blob limit and the
  account's quota (stored plus in-progress bytes); exactly that many bytes must arrive, else nothing is kept,
  and nothing is kept either when the client left before the answer (it can never learn the id);
- only the owner's account and the ``to`` account (while still linked) may download;
- the owner's account may withdraw its blob at any time (a cancel that came after the last byte left);
- a blob is deleted once every device addressed at upload time (the ``to`` account's devices and the owner's
  other devices) confirmed fetching it, or when the envelope TTL passes, whichever comes first.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from dataclasses import dataclass

from crypto.attachments import encrypted_size
from server.clock import Clock
from server.config import Settings
from server.errors import AppError, BadRequest, ErrorCode, NotFound, PayloadTooLarge
from server.services.links import LinkService
from server.services.values import Principal
from storage.blobs import BlobInfo, BlobQuotaExceeded, BlobStore, NewBlob
from storage.errors import StorageError
from storage.protocols import Storage

__all__ = ["BlobLimits", "BlobService", "Download", "Usage", "blob_limits"]

log = logging.getLogger(__name__)

UPLOAD_WINDOW_MS = 6 * 3600 * 1000  # a reservation not committed by then was cut by a crash: swept


@dataclass(frozen=True, slots=True)
class BlobLimits:
    max_blob_bytes: int  # one blob (ciphertext), from the configured attachment limit
    quota_bytes: int  # per account, stored plus uploading
    ttl_ms: int  # the envelope TTL: a blob never outlives the message that points at it


def blob_limits(settings: Settings) -> BlobLimits:
    return BlobLimits(
        # The setting bounds a file's plaintext; the blob adds 17 bytes per 64 KiB chunk plus a header.
        max_blob_bytes=encrypted_size(settings.max_attachment_bytes),
        quota_bytes=settings.attachment_quota_bytes,
        ttl_ms=settings.envelope_ttl_seconds * 1000,
    )


@dataclass(frozen=True, slots=True)
class Usage:
    used_bytes: int
    quota_bytes: int
    max_blob_bytes: int


@dataclass(frozen=True, slots=True)
class Download:
    info: BlobInfo
    start: int
    end: int  # exclusive
    chunks: AsyncGenerator[bytes, None]  # aclose() it if not read to the end


def quota_exceeded(exc: BlobQuotaExceeded) -> AppError:
    return AppError(
        "Your storage quota for files is used up; files are deleted once received or expired.",
        {"used_bytes": exc.used, "quota_bytes": exc.quota},
        code=ErrorCode.QUOTA_EXCEEDED,
    )


class BlobService:
    def __init__(
        self, store: BlobStore, storage: Storage, links: LinkService, clock: Clock, limits: BlobLimits
    ) -> None:
        self._store = store
        self._storage = storage
        self._links = links
        self._clock = clock
        self.limits = limits

    def check_size(self, size: int) -> None:
        if size > self.limits.max_blob_bytes:
            raise PayloadTooLarge(
                f"The file is larger than this server accepts ({self.limits.max_blob_bytes} bytes).",
                {"limit": self.limits.max_blob_bytes},
            )
        if size <= 0:
            raise BadRequest("An upload must declare a positive size.", {"header": "Content-Length"})

    async def _require_conversation(self, caller: Principal, to_account: str) -> None:
        if to_account == caller.account_id:
            return
        link = await self._links.require_link(caller, to_account)
        await self._links.require_reachable(to_account)
        await self._links.require_consent(link.therapist_id, link.client_id)

    async def upload(
        self,
        caller: Principal,
        to_account: str,
        size: int,
        body: AsyncIterable[bytes],
        client_gone: Callable[[], bool] = lambda: False,
    ) -> BlobInfo:
        """Stream ``body`` into a new blob of exactly ``size`` bytes; on any failure nothing is kept.

        ``client_gone``: True once the uploader's connection closed. A client that left after its last byte
        (a Cancel that came too late to cut the body) can never learn the blob's id, so nobody could point at
        it or withdraw it: it is deleted at once rather than held against the quota until it expires."""
        self.check_size(size)
        await self._require_conversation(caller, to_account)
        accounts = {caller.account_id, to_account}
        devices = await self._storage.devices.get_devices(sorted(accounts))
        recipients = frozenset(d.device_id for d in devices if d.active) - {caller.device_id}
        now = self._clock()
        new = NewBlob(
            blob_id=secrets.token_hex(16),
            owner_account=caller.account_id,
            owner_device=caller.device_id,
            to_account=to_account,
            size=size,
            recipients=recipients,
            created_at=now,
            upload_expires_at=now + UPLOAD_WINDOW_MS,
        )
        try:
            writer = await self._store.begin_blob(new, quota=self.limits.quota_bytes, now=now)
        except BlobQuotaExceeded as exc:
            raise quota_exceeded(exc) from None
        try:
            async for chunk in body:
                if writer.written + len(chunk) > size:
                    raise PayloadTooLarge("The body is larger than its declared size.", {"limit": size})
                await writer.write(chunk)
            if writer.written != size:
                raise BadRequest(
                    "The upload ended before its declared size; nothing was kept.",
                    {"received": writer.written, "declared": size},
                )
            info = await writer.commit(self._clock() + self.limits.ttl_ms)
        except BaseException:
            # Interrupted (client gone, cancelled, too long, storage error): remove every trace.
            await asyncio.shield(writer.abort())
            raise
        if client_gone():
            await asyncio.shield(self._store.delete_blob(info.blob_id, caller.account_id))
            raise BadRequest("The upload's connection closed before its answer; nothing was kept.")
        return info

    async def _readable(self, caller: Principal, blob_id: str) -> BlobInfo:
        info = await self._store.get_blob(blob_id, self._clock())
        if info is not None and await self._may_read(caller, info):
            return info
        # One answer for "unknown" and "not yours": ids cannot be probed.
        raise NotFound("No such file, or it was deleted after delivery or expiry.")

    async def _may_read(self, caller: Principal, info: BlobInfo) -> bool:
        if caller.account_id == info.owner_account:
            return True
        if caller.account_id != info.to_account:
            return False
        try:
            await self._links.require_link(caller, info.owner_account)
        except AppError:
            return False
        return True

    async def download(
        self, caller: Principal, blob_id: str, byte_range: tuple[int, int | None] | None
    ) -> Download:
        """The blob's bytes, whole or ``byte_range`` = (first, last inclusive or None for the end)."""
        info = await self._readable(caller, blob_id)
        start, end = 0, info.size
        if byte_range is not None:
            first, last = byte_range
            if first < 0:  # a suffix range: the last -first bytes
                first = max(0, info.size + first)
            if first >= info.size:
                raise AppError(
                    "The requested range lies beyond the end of the file.",
                    {"size": info.size},
                    code=ErrorCode.RANGE_NOT_SATISFIABLE,
                )
            start, end = first, info.size if last is None else min(last + 1, info.size)
        return Download(info, start, end, self._chunks(blob_id, start, end))

    async def _chunks(self, blob_id: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        try:
            async for piece in self._store.read_blob(blob_id, start, end):
                yield piece
        except StorageError:
            log.warning("blob bytes missing during a download")
            raise

    async def confirm_fetched(self, caller: Principal, blob_id: str) -> bool:
        """The caller's device has the blob (and verified it): True if that deleted the blob."""
        await self._readable(caller, blob_id)
        return await self._store.mark_blob_fetched(blob_id, caller.device_id)

    async def withdraw(self, caller: Principal, blob_id: str) -> None:
        """The uploader's account deletes its blob (the person cancelled after the bytes were sent)."""
        if not await self._store.delete_blob(blob_id, caller.account_id):
            # The same answer as a download: "unknown" and "someone else's" cannot be told apart.
            raise NotFound("No such file, or it was deleted after delivery or expiry.")

    async def usage(self, caller: Principal) -> Usage:
        used = await self._store.get_blob_usage(caller.account_id)
        return Usage(used, self.limits.quota_bytes, self.limits.max_blob_bytes)

    async def sweep(self) -> int:
        deleted = await self._store.delete_expired_blobs(self._clock())
        if deleted:
            log.info("expired blobs deleted", extra={"deleted": deleted})
        return deleted

    async def delete_blobs_of(self, account_id: str) -> int:
        """Account erasure: every blob the account uploaded."""
        return await self._store.delete_blobs_of(account_id)
