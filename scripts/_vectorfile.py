"""The `--check` / write step every vector generator shares (scripts/gen_*_vectors.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


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
