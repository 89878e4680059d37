"""ISO/IEC 7816-4 padding to a multiple of PADDING_BLOCK_BYTES (160, as Signal does).

pad(m) = m || 0x80 || 0x00 * k, with the smallest k >= 0 making the length a multiple of 160.
A message whose length is already a multiple of 160 grows by a whole block. Unpadding strips trailing
zeros and requires the byte before them to be 0x80.
"""

from __future__ import annotations

from crypto.errors import DecryptionFailed
from crypto.limits import PADDING_BLOCK_BYTES

__all__ = ["pad", "padded_length", "unpad"]


def padded_length(length: int) -> int:
    return (length // PADDING_BLOCK_BYTES + 1) * PADDING_BLOCK_BYTES


def pad(message: bytes) -> bytes:
    return message + b"\x80" + bytes(padded_length(len(message)) - len(message) - 1)


def unpad(padded: bytes) -> bytes:
    if not padded or len(padded) % PADDING_BLOCK_BYTES:
        raise DecryptionFailed("invalid padding")
    end = len(padded.rstrip(b"\x00"))
    if end == 0 or padded[end - 1] != 0x80:
        raise DecryptionFailed("invalid padding")
    return padded[: end - 1]
