"""Run every benchmark in bench/ (each script that defines ``main``), one child process each.

    python bench/run_all.py            # full size
    python bench/run_all.py --smoke    # every benchmark at its tiny CI size

Exits non-zero if any benchmark fails. Scripts whose name starts with ``_`` are helpers, not benchmarks.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
_MAIN = re.compile(r"^def main\(", re.MULTILINE)  # main(argv) or main(): each runs as its own process


def discover() -> list[Path]:
    return sorted(
        p
        for p in BENCH.glob("*.py")
        if not p.name.startswith("_") and p.name != Path(__file__).name and _MAIN.search(p.read_text())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="pass --smoke to every benchmark")
    parser.add_argument("--only", action="append", default=[], help="run only these (file stem), repeatable")
    args = parser.parse_args(argv)
    scripts = [p for p in discover() if not args.only or p.stem in args.only]
    failed = []
    for script in scripts:
        cmd = [sys.executable, str(script), *(["--smoke"] if args.smoke else [])]
        print(f"== {script.name} {'--smoke' if args.smoke else ''}".rstrip(), flush=True)
        started = time.monotonic()
        code = subprocess.call(cmd, cwd=BENCH.parent)
        print(f"== {script.name}: exit {code} in {time.monotonic() - started:.1f} s", flush=True)
        if code != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(scripts)} benchmarks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
