"""Attachment benchmark: streamed blob upload and download through `confidant serve` vs a bare aiohttp file
server (bench/_static_files.py) measured in the same run.

    python bench/attachments.py             # 1 MB x 20 and 50 MB x 3, each way, both servers
    python bench/attachments.py --smoke     # 256 KB x 3 and 4 MB x 1 (CI size)

For each file size: upload throughput (MB/s, the client sends ciphertext-sized random bytes, which is all
the server ever sees), download throughput, the server process's CPU seconds per MB (user + system, from
/proc via psutil), and the server's peak RSS growth during one upload (sampled every 5 ms): streaming means
the peak must not grow with the file size. Confidant's uploads are authenticated, quota-checked, recorded
in SQLite, written to a temporary file, fsynced and renamed; the baseline does the file part only.
Uploads and downloads run one at a time from this process (a person sends one file at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import psutil

from bench._common import REPO, ChildServer, ConfidantServer, Table, bench_dir
from bench._provision import provision_pairs

MB = 1024 * 1024
PIECE = 256 * 1024


class StaticServer(ChildServer):
    def __init__(self, root: Path, log_path: Path) -> None:
        super().__init__(log_path)
        self.root = root

    def command(self) -> list[str]:
        script = str(REPO / "bench" / "_static_files.py")
        args = ["--host", self.host, "--port", str(self.port), "--root", str(self.root)]
        return [sys.executable, script, *args]


@dataclass
class Result:
    target: str
    size: int
    count: int
    up_s: float
    down_s: float
    up_cpu: float
    down_cpu: float
    peak_rss_growth: int

    def row(self) -> list[str]:
        total = self.size * self.count / MB
        return [
            self.target,
            f"{self.size / MB:g} MB x {self.count}",
            f"{total / self.up_s:.0f}",
            f"{total / self.down_s:.0f}",
            f"{self.up_cpu / total * 1000:.1f}",
            f"{self.down_cpu / total * 1000:.1f}",
            f"{self.peak_rss_growth / MB:.1f}",
        ]


class RssSampler:
    """Peak RSS of a process while active, sampled from a thread (the event loop is busy sending)."""

    def __init__(self, proc: psutil.Process) -> None:
        self._proc = proc
        self._stop = threading.Event()
        self.base = proc.memory_info().rss
        self.peak = self.base
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def _body(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), PIECE):
        yield data[i : i + PIECE]


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


Upload = Callable[[aiohttp.ClientSession, bytes], Awaitable[str]]
Download = Callable[[aiohttp.ClientSession, str], Awaitable[int]]


async def measure(target: str, pid: int, upload: Upload, download: Download, size: int, count: int) -> Result:
    proc = psutil.Process(pid)
    data = os.urandom(size)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        await download(http, await upload(http, os.urandom(64 * 1024)))  # warm up connections and code paths
        ids = []
        cpu, started = _cpu(proc), time.perf_counter()
        with RssSampler(proc) as rss:
            for _ in range(count):
                ids.append(await upload(http, data))
        up_s, up_cpu = time.perf_counter() - started, _cpu(proc) - cpu
        cpu, started = _cpu(proc), time.perf_counter()
        for blob_id in ids:
            got = await download(http, blob_id)
            assert got == size, f"{target}: downloaded {got} of {size} bytes"
        down_s, down_cpu = time.perf_counter() - started, _cpu(proc) - cpu
    return Result(target, size, count, up_s, down_s, up_cpu, down_cpu, rss.peak - rss.base)


async def _drain(resp: aiohttp.ClientResponse) -> int:
    n = 0
    async for piece in resp.content.iter_chunked(PIECE):
        n += len(piece)
    return n


async def run(sizes: list[tuple[int, int]], out: Path) -> list[Result]:
    results = []
    confidant = ConfidantServer(out / "data", log_path=out / "confidant.log", log_level="warning")
    confidant.start()
    try:
        pair = (await provision_pairs(confidant.url, confidant.admin_code(), 1))[0]
        sender = {"Authorization": f"Bearer {pair.sender.auth['token']}"}
        receiver = {"Authorization": f"Bearer {pair.receiver.auth['token']}"}

        async def c_up(http: aiohttp.ClientSession, data: bytes) -> str:
            headers = {**sender, "Content-Length": str(len(data)), "Content-Type": "application/octet-stream"}
            url = f"{confidant.url}/api/v1/blobs"
            async with http.post(url, params={"to": pair.to_account}, data=_body(data), headers=headers) as r:
                assert r.status == 201, await r.text()
                return str((await r.json())["blob_id"])

        async def c_down(http: aiohttp.ClientSession, blob_id: str) -> int:
            async with http.get(f"{confidant.url}/api/v1/blobs/{blob_id}", headers=receiver) as r:
                assert r.status == 200, await r.text()
                return await _drain(r)

        for size, count in sizes:
            results.append(await measure("confidant", confidant.pid, c_up, c_down, size, count))
    finally:
        confidant.stop()

    static = StaticServer(out / "static", out / "static.log")
    static.start()
    try:

        async def s_up(http: aiohttp.ClientSession, data: bytes) -> str:
            headers = {"Content-Length": str(len(data))}
            async with http.post(f"{static.url}/files", data=_body(data), headers=headers) as r:
                assert r.status == 201
                return str((await r.json())["id"])

        async def s_down(http: aiohttp.ClientSession, file_id: str) -> int:
            async with http.get(f"{static.url}/files/{file_id}") as r:
                return await _drain(r)

        for size, count in sizes:
            results.append(await measure("bare aiohttp", static.pid, s_up, s_down, size, count))
    finally:
        static.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes for CI")
    args = parser.parse_args(argv)
    sizes = [(256 * 1024, 3), (4 * MB, 1)] if args.smoke else [(1 * MB, 20), (50 * MB, 3)]
    out = bench_dir("attachments-")
    results = asyncio.run(run(sizes, out))
    headers = ["server", "files", "up MB/s", "down MB/s", "up CPU ms/MB", "down CPU ms/MB", "peak RSS +MB"]
    print(Table(headers, [r.row() for r in sorted(results, key=lambda r: (r.size, r.target))]).render())
    by = {(r.target, r.size): r for r in results}
    for size, _count in sizes:
        c, b = by[("confidant", size)], by[("bare aiohttp", size)]
        print(
            f"{size / MB:g} MB: confidant/bare upload throughput {b.up_s / c.up_s:.2f}, download "
            f"{b.down_s / c.down_s:.2f}; CPU per MB up {c.up_cpu / max(b.up_cpu, 1e-9):.2f}x, "
            f"down {c.down_cpu / max(b.down_cpu, 1e-9):.2f}x"
        )
    small, large = by[("confidant", sizes[0][0])], by[("confidant", sizes[-1][0])]
    print(
        f"confidant peak RSS growth during one upload: {small.peak_rss_growth / MB:.1f} MB at "
        f"{sizes[0][0] / MB:g} MB, {large.peak_rss_growth / MB:.1f} MB at {sizes[-1][0] / MB:g} MB "
        f"(streamed: must not scale with the file)"
    )
    print(f"machine: {os.cpu_count()} cores (shared), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
