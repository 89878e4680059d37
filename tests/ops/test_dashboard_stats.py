"""The dashboard's arithmetic (web-client/src/admin/stats.js), run by Node: rates between two snapshots and
windowed latency percentiles interpolated like Prometheus' histogram_quantile."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

STATS = Path(__file__).resolve().parents[2] / "web-client" / "src" / "admin" / "stats.js"

SCRIPT = """
import { rate, quantile, latencyWindow, formatSeconds } from %s;
const snap = (at, accepted, buckets, count) => ({ at, metrics: {
  envelopes: { accepted }, delivery_latency: { buckets, count, sum: 0 } } });
const a = snap(1000, 10, [[0.01, 4], [0.1, 10], [1, 10]], 10);
const b = snap(4000, 40, [[0.01, 9], [0.1, 19], [1, 30]], 30);
const restarted = snap(7000, 2, [[0.01, 0], [0.1, 0], [1, 0]], 0);
console.log(JSON.stringify({
  rate: rate(a, b, (m) => m.envelopes.accepted),
  first: rate(null, a, (m) => m.envelopes.accepted),
  restarted: rate(b, restarted, (m) => m.envelopes.accepted),
  p50: quantile(0.5, [[0.01, 5], [0.1, 10]], 10),
  p95: quantile(0.95, [[0.01, 5], [0.1, 10]], 10),
  beyond: quantile(0.99, [[0.01, 5], [0.1, 8]], 10),
  empty: quantile(0.5, [[0.01, 0]], 0),
  window: latencyWindow(a, b, [0.5, 0.9]),
  idle: latencyWindow(b, b, [0.5]),
  fmt: [formatSeconds(0.0042), formatSeconds(42), formatSeconds(5400), formatSeconds(null)],
}));
"""


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    node = shutil.which("node")
    assert node is not None, "node is required to build and test the web client"
    out = subprocess.run([node, "--input-type=module", "-e", SCRIPT % json.dumps(STATS.as_uri())],
                         capture_output=True, text=True, timeout=30, check=True)
    parsed: dict[str, object] = json.loads(out.stdout)
    return parsed


def test_rates_between_snapshots(results: dict[str, object]) -> None:
    assert results["rate"] == 10.0  # 30 envelopes in 3 s
    assert results["first"] is None and results["restarted"] is None  # unknown, not negative


def test_percentiles_interpolate_inside_buckets(results: dict[str, object]) -> None:
    assert results["p50"] == pytest.approx(0.01)
    assert results["p95"] == pytest.approx(0.01 + 0.09 * 4.5 / 5)
    assert results["beyond"] == 0.1  # in the +Inf bucket: the largest finite bound, as Prometheus does
    assert results["empty"] is None


def test_percentiles_cover_only_the_window(results: dict[str, object]) -> None:
    # Between the snapshots: 5 observations <= 10 ms, 4 in (10 ms, 100 ms], 11 in (100 ms, 1 s].
    window = results["window"]
    assert isinstance(window, dict)
    assert window["0.5"] == pytest.approx(0.1 + 0.9 * (10 - 9) / 11)
    assert window["0.9"] == pytest.approx(0.1 + 0.9 * (18 - 9) / 11)
    assert results["idle"] == {"0.5": None}  # no delivery in the window: no percentile, not a stale one
    assert results["fmt"] == ["4 ms", "42.0 s", "90 min", "\u2013"]  # an en dash: unknown
