"""Shared pieces of the relay benchmarks: paths, child servers, statistics, tables."""

from __future__ import annotations

import os
import resource
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fixtures.server_proc import ChildServer, ConfidantServer  # noqa: E402

__all__ = [
    "REPO",
    "BaselineServer",
    "ChildServer",
    "ConfidantServer",
    "Table",
    "bench_dir",
    "percentile",
    "raise_nofile",
]


class BaselineServer(ChildServer):
    """bench/_baseline.py as a child process."""

    def command(self) -> list[str]:
        return [
            sys.executable,
            str(REPO / "bench" / "_baseline.py"),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]


def bench_dir(prefix: str) -> Path:
    """A fresh directory for one benchmark run (data dirs and server logs)."""
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=out))


def raise_nofile(wanted: int) -> int:
    """Raise RLIMIT_NOFILE towards ``wanted`` (at most the hard limit); returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]

    def render(self) -> str:
        widths = [
            max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
            for i, h in enumerate(self.headers)
        ]
        line = "| " + " | ".join(h.ljust(w) for h, w in zip(self.headers, widths, strict=True)) + " |"
        sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        body = [
            "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in self.rows
        ]
        return "\n".join([line, sep, *body])


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
