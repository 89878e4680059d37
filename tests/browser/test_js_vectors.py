"""The browser's crypto (web-client/src/crypto, run by Node's test runner) reproduces every vector in
tests/vectors byte for byte, and has a check for every vector file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_js_crypto_matches_every_python_vector() -> None:
    node = shutil.which("node")
    assert node, "Node.js is required for the browser crypto vectors"
    web = REPO / "web-client"
    assert (web / "node_modules" / "libsodium-wrappers-sumo").is_dir(), "run scripts/build-web.sh first"
    env = {"PATH": str(Path(node).parent), "CONFIDANT_VECTORS": str(REPO / "tests" / "vectors")}
    out = subprocess.run([node, "--test", "test/"], cwd=web, capture_output=True, text=True, timeout=240,
                         env=env)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-6000:]
    assert "# fail 0" in report and "# pass " in report
