"""What every vector generator shares (scripts/gen_*_vectors.py): deterministic seeds, the name of the error a
case must raise, and the `--check` / write step."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crypto.errors import CryptoError


def write_or_check(out: Path, data: Any, *, ensure_ascii: bool) -> int:
    """Write ``data`` as the vector file ``out``; with ``--check``, fail (1) if the file would change."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="fail if the file would change")
    text = json.dumps(data, indent=1, ensure_ascii=ensure_ascii) + "\n"
    if parser.parse_args().check:
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            print(f"{out.name} would change", file=sys.stderr)
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    return 0


def seeded(prefix: str) -> Callable[..., bytes]:
    """``seed(label, size=32)``: bytes from SHA-512 of ``confidant-vectors/<prefix><label>``, so that
    every key, id and nonce of a vector file is reproducible from its label."""

    def seed(label: str, size: int = 32) -> bytes:
        return hashlib.sha512(f"confidant-vectors/{prefix}{label}".encode()).digest()[:size]

    return seed


def crypto_error(fn: Callable[..., Any], *args: Any) -> str:
    """The name of the ``CryptoError`` ``fn(*args)`` raises (a case's expected refusal); fails if none."""
    try:
        fn(*args)
    except CryptoError as exc:
        return type(exc).__name__
    raise AssertionError("expected a CryptoError")
