"""Random codes and their stored hashes. Codes are shown once; only SHA-256 is stored."""

from __future__ import annotations

import base64
import hashlib
import secrets

__all__ = ["new_code", "new_id", "sha256"]


def new_id() -> str:
    return secrets.token_hex(16)


def new_code(nbytes: int = 18) -> str:
    """URL-safe base64 without padding: fits in a link fragment and can be typed."""
    return base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).rstrip(b"=").decode("ascii")


def sha256(text: str | bytes) -> bytes:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).digest()
