"""Search files for secrets in every encoding they could plausibly be written in."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path


def encodings(secret: bytes) -> set[bytes]:
    """Raw, hex (both cases), and base64 / base64url at every byte alignment (so a key embedded inside a
    longer encoded blob is found too), without the characters the neighbouring bytes would change."""
    out = {secret, secret.hex().encode(), secret.hex().upper().encode()}
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + secret).rstrip(b"=")
            head = (shift * 8 + 5) // 6
            out.add(text[head:-2] if len(secret) > 8 else text[head:])
    return {n for n in out if len(n) >= 8}


def find_leaks(
    files: Iterable[Path], secrets: dict[str, list[bytes]], *, verbatim: Iterable[str] = ()
) -> list[str]:
    """``"<label> in <file>"`` for every secret found; ``secrets`` maps a label to raw secret values.
    Labels in ``verbatim`` (texts such as plaintexts) are searched as they are, keys in every encoding."""
    as_is = set(verbatim)
    needles = [
        (label, enc)
        for label, values in secrets.items()
        for v in values
        for enc in ({v} if label in as_is else encodings(v))
    ]
    leaks = []
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # e.g. the -wal file checkpointed away between listing and reading
        leaks += [f"{label} in {path.name}" for label, needle in needles if needle in data]
    return sorted(set(leaks))
