"""Files and images, end to end: encrypt and stream up a blob, send its pointer in a message; download,
verify and decrypt on the other side (docs/SDK.md "Files", docs/PROTOCOL.md section 11).

    sent = await send_file(device, therapist_id, Path("worksheet.pdf"))
    message = (await device.receive(1))[0]            # message.body is a FilePointer
    path = await download_file(device, message.body, Path("downloads"))

Nothing is written under the final name until the blob's digest and every chunk's tag verified: a tampered,
truncated or swapped blob raises FileRejected and leaves no file. An interrupted download resumes where it
stopped (HTTP Range). Once a file is saved, the device tells the server, which deletes the blob when every
addressed device has it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import mimetypes
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from client.errors import ClientError, TransportError
from client.file_pointer import FilePointer, safe_file_name
from crypto.attachments import AttachmentEncryptor, decrypt_file, encrypted_size
from crypto.errors import CryptoError, TooLarge
from crypto.limits import ATTACHMENT_CHUNK_BYTES, MAX_ATTACHMENT_BYTES

if TYPE_CHECKING:
    from client.device import Device

__all__ = ["FileRejected", "SentFile", "download_bytes", "download_file", "send_file"]

log = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 5  # resumed with Range after each dropped connection


class FileRejected(ClientError):
    """The downloaded blob does not match its pointer (tampered, truncated or swapped): nothing was kept."""


@dataclass(frozen=True)
class SentFile:
    message_id: str
    pointer: FilePointer


def _blocks(source: BinaryIO) -> Iterator[bytes]:
    while block := source.read(ATTACHMENT_CHUNK_BYTES):
        yield block


async def _encrypted(encryptor: AttachmentEncryptor, source: BinaryIO) -> AsyncIterator[bytes]:
    for piece in encryptor.encrypt(_blocks(source)):
        yield piece


async def send_file(
    device: Device,
    account_id: str,
    source: Path | str | bytes,
    *,
    name: str | None = None,
    content_type: str | None = None,
    thumbnail: bytes | None = None,
    timeout: float | None = None,
) -> SentFile:
    """Encrypt ``source`` (a path or bytes) with a fresh key, stream it to the server and send the pointer
    to ``account_id`` (and our other devices) in an end-to-end encrypted message.

    ``thumbnail``: an optional JPEG preview (at most 16 KiB) for images, shown before the download."""
    opened: BinaryIO
    if isinstance(source, bytes):
        size, opened, default_name = len(source), io.BytesIO(source), "file"
    else:
        path = Path(source)
        size, opened, default_name = path.stat().st_size, path.open("rb"), path.name
    with opened:
        if size > MAX_ATTACHMENT_BYTES:
            raise TooLarge(f"files are limited to {MAX_ATTACHMENT_BYTES} bytes")
        file_name = safe_file_name(name or default_name)
        kind = (content_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream").lower()
        encryptor = AttachmentEncryptor()
        uploaded = await device.api.upload_blob(
            account_id, encrypted_size(size), _encrypted(encryptor, opened)
        )
    pointer = encryptor.pointer
    file = FilePointer(
        str(uploaded["blob_id"]), pointer.key, pointer.digest, pointer.size, kind, file_name, thumbnail
    )
    message_id = await device.send(account_id, file, timeout=timeout)
    return SentFile(message_id, file)


async def _fetch_ciphertext(device: Device, pointer: FilePointer, sink: BinaryIO) -> None:
    expected, have = encrypted_size(pointer.size), 0
    for attempt in range(DOWNLOAD_ATTEMPTS):
        try:
            have += await device.api.download_blob(pointer.blob_id, sink, offset=have)
            break
        except TransportError:
            if attempt == DOWNLOAD_ATTEMPTS - 1:
                raise
            have = sink.tell()
            log.info("file download interrupted; resuming at byte %d", have)
    if have != expected:
        raise FileRejected("the downloaded file does not have the size its message announced")


async def download_file(
    device: Device, pointer: FilePointer, directory: Path | str, *, confirm: bool = True
) -> Path:
    """Download, verify and decrypt into ``directory`` under the sender's (sanitised) file name; an existing
    file of that name is never overwritten (a counter is added). Raises FileRejected on any mismatch."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".confidant-") as scratch:
        cipher_path, plain_path = Path(scratch) / "blob", Path(scratch) / "plain"
        with cipher_path.open("w+b") as cipher:
            await _fetch_ciphertext(device, pointer, cipher)
            cipher.seek(0)
            try:
                with plain_path.open("wb") as plain:
                    decrypt_file(cipher, plain, pointer.attachment)
                    plain.flush()
                    os.fsync(plain.fileno())
            except CryptoError as exc:
                raise FileRejected(f"the file failed verification ({exc.__class__.__name__})") from None
        target = _free_name(folder, safe_file_name(pointer.name))
        os.replace(plain_path, target)
    if confirm:
        await _confirm(device, pointer)
    return target


async def download_bytes(device: Device, pointer: FilePointer, *, confirm: bool = True) -> bytes:
    """``download_file`` for small files, into memory (still verified before anything is returned)."""
    with tempfile.TemporaryDirectory(prefix="confidant-") as scratch:
        path = await download_file(device, pointer, scratch, confirm=confirm)
        return path.read_bytes()


async def _confirm(device: Device, pointer: FilePointer) -> None:
    with contextlib.suppress(ClientError):  # the TTL deletes it anyway
        await device.api.confirm_blob_fetched(pointer.blob_id)


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix = target.stem, target.suffix
    n = 1
    while target.exists():
        target = folder / f"{stem} ({n}){suffix}"
        n += 1
    return target
