"""The audit pseudonym master key, kept outside the database.

It seals each account's own pseudonym key (server/audit.py) and derives the index under which that sealed key
is stored, so that a copy of the database alone (a backup, a dump) can neither read the keys nor find which
row belongs to which account id. Default file: ``<data_dir>/audit-pseudonym.key`` (32 random bytes, mode
0600, created on first start); setting ``audit_key_file``. Losing it makes every existing entry unlinkable
(the chain still verifies); several nodes must share the same file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["KEY_BYTES", "load_or_create_audit_key"]

KEY_BYTES = 32


def load_or_create_audit_key(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = secrets.token_bytes(KEY_BYTES)
        try:
            # O_EXCL: of two processes starting together, one writes and the other reads its key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_bytes()
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(candidate)
                out.flush()
                os.fsync(out.fileno())
            return candidate
    if len(key) != KEY_BYTES:
        raise ValueError(f"the audit key file {path} must hold exactly {KEY_BYTES} bytes")
    return key
