"""Attachments: a file of any size encrypted as one libsodium secretstream, streamed in fixed chunks.

    blob    = header 24 | chunk_1 | ... | chunk_n,  chunk_i = secretstream_push(plaintext_i, tag)
    every plaintext_i is ATTACHMENT_CHUNK_BYTES long except the last (0..ATTACHMENT_CHUNK_BYTES bytes,
    0 only for an empty file), which alone carries TAG_FINAL.
    pointer = key 32 | digest 32 (BLAKE2b-256 of the whole blob) | size u64 BE (plaintext bytes)  (72 bytes)

The pointer travels inside an end-to-end encrypted message; the blob goes to the server. Decryption
yields plaintext chunk by chunk and raises at the first problem: `DecryptionFailed` (tampered or
reordered chunk, wrong key, digest mismatch) or `StreamTruncated` (blob shorter or longer than the
pointer says, or no final chunk). The caller must discard output written before an error.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from crypto import primitives as p
from crypto.errors import DecryptionFailed, MalformedEnvelope, StreamTruncated, TooLarge
from crypto.limits import ATTACHMENT_CHUNK_BYTES, MAX_ATTACHMENT_BYTES

__all__ = [
    "AttachmentEncryptor",
    "AttachmentPointer",
    "decrypt_file",
    "decrypt_stream",
    "encrypt_file",
    "encrypted_size",
]

POINTER_SIZE: Final = 32 + 32 + 8
_CIPHER_CHUNK: Final = ATTACHMENT_CHUNK_BYTES + p.SECRETSTREAM_ABYTES
_READ_SIZE: Final = ATTACHMENT_CHUNK_BYTES


@dataclass(frozen=True)
class AttachmentPointer:
    """What the sender puts inside the message so the recipient can fetch and decrypt the blob."""

    key: bytes
    digest: bytes
    size: int

    def to_bytes(self) -> bytes:
        return self.key + self.digest + struct.pack(">Q", self.size)

    @classmethod
    def from_bytes(cls, raw: bytes) -> AttachmentPointer:
        if len(raw) != POINTER_SIZE:
            raise MalformedEnvelope("attachment pointer has the wrong size")
        (size,) = struct.unpack(">Q", raw[64:])
        return cls(raw[:32], raw[32:64], size)

    def __repr__(self) -> str:
        return f"AttachmentPointer(size={self.size}, digest={self.digest[:4].hex()}…, key=<hidden>)"


def encrypted_size(size: int) -> int:
    """Blob length for a plaintext of `size` bytes (the server may check uploads against it)."""
    chunks = max(1, -(-size // ATTACHMENT_CHUNK_BYTES))
    return p.SECRETSTREAM_HEADER_SIZE + size + chunks * p.SECRETSTREAM_ABYTES


def _rechunk(blocks: Iterable[bytes], size: int) -> Iterator[tuple[bytes, bool]]:
    """Exact `size`-byte pieces of the concatenated input, each flagged whether it is the last one."""
    buf = bytearray()
    for block in blocks:
        buf += block
        while len(buf) > size:
            yield bytes(buf[:size]), False
            del buf[:size]
    yield bytes(buf), True


def _read_blocks(source: BinaryIO) -> Iterator[bytes]:
    while block := source.read(_READ_SIZE):
        yield block


class AttachmentEncryptor:
    """`encrypt(blocks)` yields the blob; once exhausted, `pointer` holds key, digest and size.

    `key` and `header` are for vectors only; normally both are fresh random values.
    """

    def __init__(self, key: bytes | None = None, header: bytes | None = None) -> None:
        self._key = key if key is not None else p.random_bytes(p.SECRETSTREAM_KEY_SIZE)
        self._header = header
        self._pointer: AttachmentPointer | None = None

    @property
    def pointer(self) -> AttachmentPointer:
        if self._pointer is None:
            raise RuntimeError("the attachment has not been fully encrypted yet")
        return self._pointer

    def encrypt(self, blocks: Iterable[bytes]) -> Iterator[bytes]:
        stream = p.PushStream(self._key, self._header)
        digest = p.Blake2b()
        digest.update(stream.header)
        yield stream.header
        size = 0
        for chunk, last in _rechunk(blocks, ATTACHMENT_CHUNK_BYTES):
            size += len(chunk)
            if size > MAX_ATTACHMENT_BYTES:
                raise TooLarge(f"attachment exceeds {MAX_ATTACHMENT_BYTES} bytes")
            out = stream.push(chunk, final=last)
            digest.update(out)
            yield out
        self._pointer = AttachmentPointer(self._key, digest.digest(), size)


def encrypt_file(
    source: BinaryIO, sink: BinaryIO, *, key: bytes | None = None, header: bytes | None = None
) -> AttachmentPointer:
    """Encrypt `source` into `sink` (binary file objects) without loading the whole file."""
    enc = AttachmentEncryptor(key, header)
    for piece in enc.encrypt(_read_blocks(source)):
        sink.write(piece)
    return enc.pointer


def decrypt_stream(blob_blocks: Iterable[bytes], pointer: AttachmentPointer) -> Iterator[bytes]:
    """Yield plaintext chunks of a blob given as an iterable of byte blocks of any sizes."""
    if pointer.size > MAX_ATTACHMENT_BYTES:
        raise TooLarge(f"attachment exceeds {MAX_ATTACHMENT_BYTES} bytes")
    expected = encrypted_size(pointer.size)
    reader = _Reader(blob_blocks)
    digest = p.Blake2b()
    header = reader.read(p.SECRETSTREAM_HEADER_SIZE)
    if len(header) != p.SECRETSTREAM_HEADER_SIZE:
        raise StreamTruncated("blob shorter than its header")
    digest.update(header)
    stream = p.PullStream(pointer.key, header)
    consumed, size = len(header), 0
    while True:
        piece = reader.read(_CIPHER_CHUNK)
        if not piece:
            raise StreamTruncated("blob ends without a final chunk")
        consumed += len(piece)
        if consumed > expected:
            raise StreamTruncated("blob is longer than the pointer says")
        if consumed < expected and reader.at_end():
            raise StreamTruncated("blob is shorter than the pointer says")
        digest.update(piece)
        plaintext, final = stream.pull(piece)
        size += len(plaintext)
        yield plaintext
        if final:
            break
    if not reader.at_end():
        raise StreamTruncated("data after the final chunk")
    if size != pointer.size or not p.constant_time_equal(digest.digest(), pointer.digest):
        raise DecryptionFailed("attachment does not match its pointer")


def decrypt_file(source: BinaryIO, sink: BinaryIO, pointer: AttachmentPointer) -> int:
    """Decrypt `source` into `sink`; returns the plaintext size. Discard `sink` if this raises."""
    size = 0
    for chunk in decrypt_stream(_read_blocks(source), pointer):
        sink.write(chunk)
        size += len(chunk)
    return size


class _Reader:
    """Reads exact amounts from an iterable of blocks, with a look-ahead end test."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._it = iter(blocks)
        self._buf = bytearray()

    def _fill(self, n: int) -> None:
        while len(self._buf) < n:
            block = next(self._it, None)
            if block is None:
                return
            self._buf += block

    def read(self, n: int) -> bytes:
        self._fill(n)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def at_end(self) -> bool:
        self._fill(1)
        return not self._buf
