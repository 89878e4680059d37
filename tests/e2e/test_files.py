"""Files through a real `confidant serve`, with the Python SDK on both ends: byte-identical delivery,
deletion once fetched, a blob altered on disk is refused, Range resume, and no plaintext or file name at
rest or in logs."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from client.file_pointer import FilePointer
from client.files import FileRejected, download_bytes, download_file, send_file
from tests.e2e._scan import find_leaks
from tests.e2e.conftest import Practice


def _blob_files(p: Practice) -> list[Path]:
    return [f for f in (p.server.data_dir / "blobs").rglob("*") if f.is_file()]


async def test_a_file_arrives_byte_identical_and_nothing_readable_stays_behind(
    practice: Practice, tmp_path: Path
) -> None:
    p = practice
    await p.client.accept_terms(p.therapist.account_id)
    name = f"homework-{secrets.token_hex(4)}.pdf"
    original = tmp_path / name
    data = b"%PDF-1.7\n" + os.urandom(1_500_000)
    original.write_bytes(data)

    sent = await send_file(p.therapist, p.client.account_id, original)
    assert sent.pointer.content_type == "application/pdf" and sent.pointer.size == len(data)
    message = (await p.client.receive(1, timeout=30))[0]
    assert isinstance(message.body, FilePointer) and message.body == sent.pointer
    assert [f.read_bytes()[:100] for f in _blob_files(p)] != [data[:100]]  # the server holds ciphertext

    saved = await download_file(p.client, message.body, tmp_path / "downloads")
    assert saved.name == name and saved.read_bytes() == data
    assert _blob_files(p) == [], "deleted once the only addressed device fetched it"

    caption = f"secret-photo-{secrets.token_hex(4)}.jpg"
    thumb = b"\xff\xd8\xff\xe0" + os.urandom(2000)
    small = os.urandom(40_000)
    await send_file(p.client, p.therapist.account_id, small, name=caption, thumbnail=thumb)
    got = (await p.therapist.receive(1, timeout=30))[0].body
    assert isinstance(got, FilePointer) and got.thumbnail == thumb and got.name == caption
    assert await download_bytes(p.therapist, got) == small

    files = [*p.server.storage_files(), p.server.log_path]
    leaks = {
        "plaintext": [data[i : i + 64] for i in range(9, len(data) - 64, 300_000)]
        + [small[:64], thumb[4:68]],
        "file name": [name.encode(), caption.encode()],
        "file key": [sent.pointer.key, got.key],
    }
    assert find_leaks(files, leaks, verbatim=("plaintext", "file name")) == []


async def test_a_blob_altered_on_the_server_is_refused_and_nothing_is_saved(
    practice: Practice, tmp_path: Path
) -> None:
    p = practice
    await p.client.accept_terms(p.therapist.account_id)
    sent = await send_file(p.therapist, p.client.account_id, os.urandom(200_000), name="letter.txt")
    pointer = (await p.client.receive(1, timeout=30))[0].body
    assert isinstance(pointer, FilePointer)
    (blob,) = _blob_files(p)
    raw = bytearray(blob.read_bytes())
    raw[100_000] ^= 0x01  # a hostile or broken server flips one bit
    blob.write_bytes(bytes(raw))

    downloads = tmp_path / "downloads"
    with pytest.raises(FileRejected):
        await download_file(p.client, pointer, downloads)
    assert list(downloads.iterdir()) == [], "no file, not even a partial one"
    assert _blob_files(p) != [], "a refused file is not confirmed as fetched"

    swapped = FilePointer(
        sent.pointer.blob_id, os.urandom(32), sent.pointer.digest, 200_000, "text/plain", "x"
    )
    with pytest.raises(FileRejected):
        await download_file(p.client, swapped, downloads)


async def test_a_download_resumes_from_where_it_stopped(practice: Practice, tmp_path: Path) -> None:
    p = practice
    await p.client.accept_terms(p.therapist.account_id)
    sent = await send_file(p.therapist, p.client.account_id, os.urandom(300_000), name="a.bin")
    (blob,) = _blob_files(p)
    ciphertext = blob.read_bytes()
    sink = tmp_path / "partial"
    with sink.open("w+b") as out:
        out.write(ciphertext[:123_456])  # what arrived before the connection dropped
        await p.client.api.download_blob(sent.pointer.blob_id, out, offset=123_456)
    assert sink.read_bytes() == ciphertext
