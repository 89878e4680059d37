"""Idle connections: server RSS per authenticated socket.io connection, Confidant vs bare python-socketio.

    python bench/connections.py                       # 2,000 connections
    python bench/connections.py --connections 10000   # the one-node target
    python bench/connections.py --smoke

Connections are held by ``--procs`` client processes (raw websocket socket.io clients, bench/_sio.py).
Confidant connections authenticate with real bearer tokens of ``--devices`` registered devices (spread
round-robin: several connections of one device share its token, like several tabs); the baseline
connections join one room per device id the same way. RLIMIT_NOFILE is raised towards the hard limit for the
server and the clients. RSS is read (psutil) before the first and after the last connection is up.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from bench._common import BaselineServer, ChildServer, ConfidantServer, Table, bench_dir, raise_nofile
from bench._load import Endpoint, hold_worker


@dataclass
class ConnResult:
    target: str
    connections: int
    alive: int
    rss_before_mb: float
    rss_after_mb: float

    @property
    def kib_per_conn(self) -> float:
        return (self.rss_after_mb - self.rss_before_mb) * 1024 / max(1, self.connections)


def _hold_main(
    url: str, endpoints: list[Endpoint], connected: Any, release: Any, nofile: int, queue: Any
) -> None:
    try:
        queue.put(hold_worker(url, endpoints, connected, release, nofile))
    except BaseException as exc:
        connected.abort()
        queue.put(exc)
        raise


def measure(
    target: str, server: ChildServer, endpoints: list[Endpoint], procs: int, nofile: int
) -> ConnResult:
    ctx = multiprocessing.get_context("spawn")
    procs = max(1, min(procs, len(endpoints)))
    connected = ctx.Barrier(procs + 1)
    release = ctx.Event()
    queue = ctx.Queue()
    child = psutil.Process(server.pid)
    before = child.memory_info().rss
    workers = [
        ctx.Process(
            target=_hold_main,
            args=(server.url, endpoints[i::procs], connected, release, nofile, queue),
            daemon=True,
        )
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    connected.wait(timeout=600)
    after = child.memory_info().rss
    release.set()
    alive = 0
    for _ in workers:
        got = queue.get(timeout=120)
        if isinstance(got, BaseException):
            raise RuntimeError(f"connection worker failed: {got!r}")
        alive += got
    for w in workers:
        w.join(timeout=30)
    return ConnResult(target, len(endpoints), alive, before / 2**20, after / 2**20)


def run_target(target: str, args: argparse.Namespace, workdir: Path, nofile: int) -> ConnResult:
    devices = min(args.devices, args.connections)
    server: ChildServer
    if target == "confidant":
        server = ConfidantServer(workdir / "confidant-data", log_level="warning")
        server.start()
        from bench._provision import provision_endpoints

        registered = asyncio.run(provision_endpoints(server.url, server.admin_code(), devices))
    else:
        server = BaselineServer(workdir / "baseline.log")
        server.start()
        registered = [
            Endpoint({"device": f"{i:032x}", "account": f"{i:032x}"}, f"{i:032x}") for i in range(devices)
        ]
    endpoints = [registered[i % len(registered)] for i in range(args.connections)]
    try:
        return measure(target, server, endpoints, args.procs, nofile)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--devices", type=int, default=200, help="registered devices the connections share")
    parser.add_argument("--procs", type=int, default=1, help="client processes holding the connections")
    parser.add_argument("--targets", default="confidant,baseline")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI (< 30 s)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.connections, args.devices = 100, 10
    nofile = raise_nofile(args.connections + 1024)
    per_proc = args.connections // max(1, args.procs) + 256
    if nofile < min(args.connections, per_proc) + 64:
        print(f"RLIMIT_NOFILE is {nofile}: too low for {args.connections} connections", file=sys.stderr)
        return 2
    workdir = bench_dir("connections-")
    print(
        f"connections: {args.connections} idle authenticated connections over "
        f"{min(args.devices, args.connections)} devices, {args.procs} client process(es), "
        f"RLIMIT_NOFILE {nofile}",
        flush=True,
    )
    results = [run_target(t, args, workdir, nofile) for t in args.targets.split(",")]
    base = next((r for r in results if r.target == "baseline"), None)
    rows = []
    for r in results:
        ratio = (
            f"{r.kib_per_conn / base.kib_per_conn:.2f}"
            if base and base.kib_per_conn > 0 and r is not base
            else "-"
        )
        rows.append(
            [
                r.target,
                f"{r.connections}",
                f"{r.alive}",
                f"{r.rss_before_mb:.1f}",
                f"{r.rss_after_mb:.1f}",
                f"{r.kib_per_conn:.1f}",
                ratio,
            ]
        )
    print(
        Table(
            [
                "server",
                "connections",
                "alive at end",
                "RSS before MB",
                "RSS after MB",
                "KiB / connection",
                "vs baseline",
            ],
            rows,
        ).render()
    )
    failed = [r for r in results if r.alive != r.connections]
    for r in failed:
        print(f"FAIL {r.target}: {r.alive} of {r.connections} connections alive at the end")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
