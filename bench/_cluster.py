"""``bench/relay.py --nodes N --redis``: the relay workload across N nodes that share one Redis.

From one run, three targets with the same pairs, modes and load generators:

- ``confidant x1``: one `confidant serve` (SQLite, in-process broker): the single-node figure;
- ``confidant xN+redis``: N `confidant serve` processes sharing one SQLite file and one private redis-server;
  every pair's sender is connected to node i and its receiver to node i+1, so EVERY envelope crosses nodes
  (stored by the sender's node, pushed through Redis by ``socketio.AsyncRedisManager``);
- ``baseline xN+redis``: N bare python-socketio relays (bench/_baseline.py) over ``AsyncRedisManager``:
  the same cross-node hop with no storage, no auth, no validation. Targets (reported, not asserted):
  Confidant's cross-node throughput >= 90% of this baseline, p99 < 10 ms at a paced 1,000 envelopes/s.

Server CPU and RSS are summed over the N node processes (Redis is shared by both N-node targets and not
counted). bench/RESULTS.md records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench._common import (
    BaselineServer,
    Table,
    bench_dir,
    cpu_count,
    percentile,
)
from bench._load import LoadSpec, Pair, WorkerResult, _connect, _Receiver, _sender, drain
from tests.fixtures.redis_proc import RedisProcess
from tests.fixtures.server_proc import ChildServer, ConfidantServer

__all__ = ["run_cluster"]


@dataclass(frozen=True)
class Route:
    """One pair and the node URLs its two ends connect to."""

    pair: Pair
    sender_url: str
    receiver_url: str


@dataclass
class Result:
    target: str
    mode: str
    acked: int
    errors: int
    delivered: int
    duplicates: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    cpu_s: float
    rss_mb: float
    error_samples: list[str]

    @property
    def rate(self) -> float:
        return self.delivered / self.elapsed if self.elapsed > 0 else 0.0


class _BaselineNode(BaselineServer):
    def __init__(self, log_path: Path, redis_url: str | None) -> None:
        super().__init__(log_path)
        self.redis_url = redis_url

    def command(self) -> list[str]:
        return [*super().command(), *(["--redis-url", self.redis_url] if self.redis_url else [])]


async def _run_routes(routes: list[Route], spec: LoadSpec, barrier: Any) -> WorkerResult:
    # bench/_load.py's worker, with each end of a pair on its own node.
    result = WorkerResult()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        progress = asyncio.Event()
        receivers = [_Receiver(result, progress, spec.fold_ack) for _ in routes]
        for rec, route in zip(receivers, routes, strict=True):
            rec.client = await _connect(session, route.receiver_url, route.pair.receiver, rec.on_event)
        senders = [await _connect(session, r.sender_url, r.pair.sender) for r in routes]
        await asyncio.to_thread(barrier.wait)
        t0 = time.monotonic()
        result.first_send = t0
        await asyncio.gather(
            *(_sender(c, r.pair, spec, result, t0, {}) for c, r in zip(senders, routes, strict=True))
        )
        await drain(receivers, result, progress, spec.drain_timeout)
        for rec in receivers:
            if (rec.unacked or rec.ack_wanted) and rec.client is not None:
                await rec._ack(rec.max_pos)
        for c in [*senders, *(r.client for r in receivers if r.client is not None)]:
            await c.close()
    return result


def _worker_main(routes: list[Route], spec: LoadSpec, barrier: Any, queue: Any) -> None:
    try:
        queue.put(asyncio.run(_run_routes(routes, spec, barrier)))
    except BaseException as exc:
        barrier.abort()
        queue.put(exc)
        raise


def _spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy one node by its pid while it is under load (collapsed stacks: bench/_pyspy.py summarises)."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            *("record", "--pid", str(pid), "--duration", str(max(1, int(seconds)))),
            *("--format", "raw", "--nonblocking", "--output", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _run_mode(
    target: str,
    servers: list[ChildServer],
    routes: list[Route],
    spec: LoadSpec,
    procs: int,
    profile: Path | None = None,
) -> Result:
    ctx = multiprocessing.get_context("spawn")
    procs = max(1, min(procs, len(routes)))
    barrier = ctx.Barrier(procs + 1)
    queue = ctx.Queue()
    workers = [
        ctx.Process(target=_worker_main, args=(routes[i::procs], spec, barrier, queue), daemon=True)
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    children = [psutil.Process(s.pid) for s in servers]
    barrier.wait(timeout=120)
    cpu0 = sum(c.cpu_times().user + c.cpu_times().system for c in children)
    # One profile per node, named by node: a sampler attached by process name would catch any other server.
    spies = (
        [
            _spy(c.pid, spec.duration, profile.with_name(f"{profile.stem}-node{i}.txt"))
            for i, c in enumerate(children)
        ]
        if profile is not None
        else []
    )
    results: list[WorkerResult] = []
    for _ in workers:
        got = queue.get(timeout=spec.duration + spec.drain_timeout + 120)
        if isinstance(got, BaseException):
            raise RuntimeError(f"load worker failed: {got!r}")
        results.append(got)
    cpu1 = sum(c.cpu_times().user + c.cpu_times().system for c in children)
    rss = sum(c.memory_info().rss for c in children)
    for spy in spies:
        spy.wait(timeout=60)
    for w in workers:
        w.join(timeout=30)
    lat = sorted(x for r in results for x in r.latencies_us)
    start = min(r.first_send for r in results)
    end = max((r.last_delivery for r in results), default=start)
    return Result(
        target=target,
        mode=spec.mode,
        acked=sum(r.acked for r in results),
        errors=sum(r.errors for r in results),
        delivered=sum(r.delivered for r in results),
        duplicates=sum(r.duplicates for r in results),
        elapsed=max(0.0, end - start),
        p50_ms=percentile(lat, 50) / 1000,
        p99_ms=percentile(lat, 99) / 1000,
        cpu_s=cpu1 - cpu0,
        rss_mb=rss / 2**20,
        error_samples=[e for r in results for e in r.error_samples][:3],
    )


def _cross_routes(pairs: list[Pair], urls: list[str]) -> list[Route]:
    n = len(urls)
    return [Route(p, urls[i % n], urls[(i + 1) % n]) for i, p in enumerate(pairs)]


def _confidant(
    args: argparse.Namespace, specs: list[LoadSpec], workdir: Path, nodes: int, redis: RedisProcess | None
) -> list[Result]:
    from bench._provision import provision_pairs

    data = workdir / f"confidant-x{nodes}-data"
    extra = [*(["--redis-url", redis.url] if redis else []), *args.server_arg]
    servers = [
        ConfidantServer(
            data,
            log_path=workdir / f"confidant-x{nodes}-node{i}.log",
            log_level=args.server_log_level,
            extra_args=extra,
        )
        for i in range(nodes)
    ]
    try:
        servers[0].start()
        pairs = asyncio.run(provision_pairs(servers[0].url, servers[0].admin_code(), args.pairs))
        for server in servers[1:]:  # after the admin exists: no node re-issues the bootstrap invitation
            server.start()
        routes = _cross_routes(pairs, [s.url for s in servers])
        target = f"confidant x{nodes}" + ("+redis" if redis else "")
        return [
            _run_mode(
                target,
                list(servers),
                routes,
                spec,
                args.procs,
                workdir / f"profile-confidant-x{nodes}-{spec.mode}.txt" if args.profile else None,
            )
            for spec in specs
        ]
    finally:
        for server in servers:
            server.stop()


def _baseline(
    args: argparse.Namespace, specs: list[LoadSpec], workdir: Path, nodes: int, redis: RedisProcess
) -> list[Result]:
    from bench.relay import bare, baseline_pairs

    servers = [_BaselineNode(workdir / f"baseline-x{nodes}-node{i}.log", redis.url) for i in range(nodes)]
    try:
        for server in servers:
            server.start()
        routes = _cross_routes(baseline_pairs(args.pairs), [s.url for s in servers])
        return [
            _run_mode(f"baseline x{nodes}+redis", list(servers), routes, bare(spec), args.procs)
            for spec in specs
        ]
    finally:
        for server in servers:
            server.stop()


def report(results: list[Result], nodes: int) -> str:
    base = {r.mode: r for r in results if r.target.startswith("baseline")}
    rows = []
    for r in results:
        b = base.get(r.mode)
        ratio = f"{r.rate / b.rate:.2f}" if b and b.rate and r is not b else "-"
        rows.append(
            [
                r.target,
                r.mode,
                f"{r.acked}",
                f"{r.delivered}",
                f"{r.errors}",
                f"{r.rate:,.0f}",
                ratio,
                f"{r.p50_ms:.2f}",
                f"{r.p99_ms:.2f}",
                f"{r.cpu_s:.2f}",
                f"{r.rss_mb:.0f}",
                f"{r.cpu_s * 1e6 / r.delivered:.0f}" if r.delivered else "-",
            ]
        )
    headers = [
        "server",
        "mode",
        "acked",
        "delivered",
        "errors",
        "delivered/s",
        f"vs baseline x{nodes}",
        "p50 ms",
        "p99 ms",
        "nodes CPU s",
        "nodes RSS MB",
        "nodes CPU us/env",
    ]
    return Table(headers, rows).render()


def run_cluster(args: argparse.Namespace, specs: list[LoadSpec]) -> int:
    """The ``--nodes N --redis`` mode of bench/relay.py (its parsed arguments and load specs)."""
    nodes = max(2, args.nodes)
    workdir = bench_dir("relay-cluster-")
    print(
        f"relay cluster: {nodes} nodes + redis, {args.pairs} pairs (every envelope crosses nodes), "
        f"{args.duration:g} s per mode, window {args.window}, paced {args.rate:g}/s, "
        f"{args.envelope_bytes}-byte envelopes, {args.procs} load process(es), {cpu_count()} cores; "
        f"logs in {workdir.name}",
        flush=True,
    )
    started = time.monotonic()
    redis = RedisProcess(workdir)
    redis.start()
    try:
        results = _confidant(args, specs, workdir, 1, None)
        results += _confidant(args, specs, workdir, nodes, redis)
        results += _baseline(args, specs, workdir, nodes, redis)
    finally:
        redis.stop()
    print(report(results, nodes))
    failed = False
    for r in results:
        if r.error_samples:
            print(f"{r.target}/{r.mode} errors, e.g.: {r.error_samples}")
        if r.target.startswith("baseline") and 0 < r.delivered < r.acked:
            # The bare relay acknowledges before forwarding and stores nothing: its acks promise nothing.
            print(
                f"note {r.target}/{r.mode}: overloaded, {r.acked - r.delivered} acknowledged sends "
                f"not delivered within the drain window"
            )
        elif r.delivered == 0 or r.delivered < r.acked:
            print(f"FAIL {r.target}/{r.mode}: {r.acked} acknowledged, {r.delivered} delivered")
            failed = True
    print(f"total {time.monotonic() - started:.1f} s")
    return 1 if failed else 0
