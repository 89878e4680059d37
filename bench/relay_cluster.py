"""`bench/relay.py --nodes 2 --redis` as its own benchmark, so that `bench/run_all.py` (and CI's --smoke run)
covers the cross-node path too. Arguments are passed through (e.g. --nodes 3, --pairs 64, --smoke).

    python bench/relay_cluster.py            # same as: python bench/relay.py --nodes 2 --redis
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import relay


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--nodes" not in args:
        args = ["--nodes", "2", *args]
    return relay.main(["--redis", *args])


if __name__ == "__main__":
    raise SystemExit(main())
