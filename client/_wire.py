"""Encoding helpers for the wire format of docs/API.md (standard base64 with padding, hex ids, ms times)."""

from __future__ import annotations

import base64
import binascii
import os
import time

__all__ = ["b64d", "b64e", "new_id", "now_ms"]


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64") from exc


def new_id() -> str:
    """A fresh 16-byte random identifier as 32 lowercase hex chars (message ids are client-chosen)."""
    return os.urandom(16).hex()


def now_ms() -> int:
    return int(time.time() * 1000)
