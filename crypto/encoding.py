"""Text encodings for bytes on the wire (JSON): kept apart from the key classes.

Binary values in JSON are standard base64 with padding (docs/API.md); ids are 32 lowercase hex chars.
Decoding is strict: anything non-canonical raises `MalformedEnvelope`.
"""

from __future__ import annotations

import base64
import binascii

from crypto.errors import MalformedEnvelope
from crypto.limits import DEVICE_ID_BYTES

__all__ = ["b64decode", "b64encode", "device_id_from_hex", "device_id_to_hex"]


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedEnvelope("invalid base64") from None
    if b64encode(data) != text:
        raise MalformedEnvelope("non-canonical base64")
    return data


def device_id_to_hex(device_id: bytes) -> str:
    if len(device_id) != DEVICE_ID_BYTES:
        raise MalformedEnvelope(f"device ids are {DEVICE_ID_BYTES} bytes")
    return device_id.hex()


def device_id_from_hex(text: str) -> bytes:
    if len(text) != 2 * DEVICE_ID_BYTES or text != text.lower():
        raise MalformedEnvelope("device ids are 32 lowercase hex characters")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise MalformedEnvelope("device ids are 32 lowercase hex characters") from None
