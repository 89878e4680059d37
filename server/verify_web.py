"""``confidant verify-web --url URL``: does a server serve exactly the web client of a local build?

Run it from a machine that is not the server, against a build you made yourself from the same sources
(scripts/build-web.sh). For every file of the local release manifest (web-client/dist/release.json), plus the
page itself and the service worker, it fetches the server's copy three times (identity, gzip, brotli, as a
browser may receive any of them) and compares: identity and gzip by the SHA-256 of the decoded body, brotli
byte for byte with the local build's ``.br`` copy (no brotli decoder is needed; the build's encoder is
deterministic). It also checks that the server's release manifest lists the same files and that its
signature verifies under the local manifest's release key. Exit: 0 identical, 1 a difference, 2 unusable.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crypto.errors import CryptoError
from crypto.primitives import ed25519_verify

__all__ = ["add_verify_web_parser", "run_verify_web", "verify_web"]

_TIMEOUT_SECONDS = 15.0
_DEFAULT_DIST = Path(__file__).resolve().parents[1] / "web-client" / "dist"
# Served but not in the manifest: the page at "/" (listed as /index.html) and the service worker script.
_EXTRA = ("/", "/sw.js")


class Unusable(Exception):
    """The comparison could not be made (no local build, server unreachable)."""


@dataclass(frozen=True)
class Report:
    checked: int
    differences: list[str]


def _get(url: str, encoding: str) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
            return response.status, response.read(), response.headers.get("Content-Encoding", "")
    except urllib.error.HTTPError as exc:
        return exc.code, b"", ""
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise Unusable(f"cannot reach {url}: {exc}") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _local_file(dist: Path, path: str) -> Path:
    return dist / ("index.html" if path == "/" else path.lstrip("/"))


def _compare_file(base: str, dist: Path, path: str) -> list[str]:
    local = _local_file(dist, path)
    want = _sha256(local.read_bytes())
    found: list[str] = []
    for accept in ("identity", "gzip", "br"):
        status, body, coding = _get(base + path, accept)
        if status != 200:
            found.append(f"{path}: the server answered {status} ({accept})")
            continue
        if coding == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError):
                found.append(f"{path}: the gzip copy does not decompress")
                continue
        elif coding == "br":
            copy = local.with_name(local.name + ".br")
            if not copy.is_file() or body != copy.read_bytes():
                found.append(f"{path}: the brotli copy differs from the local build's")
            continue
        elif coding not in ("", "identity"):
            found.append(f"{path}: unexpected Content-Encoding {coding!r}")
            continue
        if _sha256(body) != want:
            label = accept if coding else "identity"
            found.append(
                f"{path}: served content differs from the local build ({label}: sha256 {_sha256(body)})"
            )
    return found


def _compare_manifest(base: str, local: dict[str, Any]) -> list[str]:
    found: list[str] = []
    status, body, coding = _get(base + "/release.json", "identity")
    if status != 200 or coding:
        return [f"/release.json: the server answered {status}"]
    try:
        served = json.loads(body)
    except ValueError:
        return ["/release.json: the served manifest is not JSON"]
    ours, theirs = local["files"], served.get("files", {}) if isinstance(served, dict) else {}
    for path in sorted(set(ours) | set(theirs)):
        if ours.get(path) != theirs.get(path):
            found.append(
                f"/release.json: {path} is {'missing' if path not in theirs else 'listed differently'}"
            )
    status, signature, _ = _get(base + "/release.sig", "identity")
    try:
        key = base64.b64decode(local["release_key"], validate=True)
        ed25519_verify(key, body, base64.b64decode(signature.strip(), validate=True))
    except (CryptoError, ValueError):
        found.append("/release.sig: the served manifest is not signed by the local build's release key")
    return found


def verify_web(url: str, dist: Path, say: Callable[[str], None] = print) -> Report:
    manifest_path = dist / "release.json"
    if not manifest_path.is_file():
        raise Unusable(f"no local build at {dist} (run scripts/build-web.sh)")
    local = json.loads(manifest_path.read_text())
    base = url.rstrip("/")
    differences: list[str] = []
    for path, digest in local["files"].items():
        if _sha256(_local_file(dist, path).read_bytes()) != digest:
            raise Unusable(f"the local build does not match its own manifest at {path}: rebuild it")
    differences += _compare_manifest(base, local)
    paths = [*local["files"], *_EXTRA]
    for path in paths:
        found = _compare_file(base, dist, path)
        say(f"{'DIFFERS' if found else 'same   '} {path}")
        differences += found
    return Report(len(paths), differences)


def add_verify_web_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "verify-web",
        help="compare the web client a server serves with a local build",
        description="Fetch every file of the web client from a server (identity, gzip and brotli) and "
        "compare it with a local build of the same sources. Exit 0 identical, 1 different, 2 unusable.",
    )
    parser.add_argument("--url", required=True, help="base URL of the server, e.g. https://confidant.example")
    parser.add_argument(
        "--dist",
        type=Path,
        default=_DEFAULT_DIST,
        help="local build to compare with (default: web-client/dist)",
    )


def run_verify_web(args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    try:
        report = verify_web(args.url, args.dist, say)
    except Unusable as exc:
        say(f"confidant verify-web: {exc}")
        return 2
    for line in report.differences:
        say(f"  {line}")
    if report.differences:
        say(f"{len(report.differences)} difference(s): this server does NOT serve your build.")
        return 1
    say(f"identical: {report.checked} files match your build, and the manifest is signed by its release key.")
    return 0
