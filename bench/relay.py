"""Relay benchmark: store-then-forward envelopes through `confidant serve` vs a bare python-socketio relay.

N sender/receiver device pairs (client -> therapist, consent given) send 400-byte envelopes over
socket.io websockets. Two modes: ``throughput`` keeps a 64-envelope in-flight window per sender;
``paced`` sends 1,000 envelopes/s in total and measures send->receive latency. The same workload then
runs against bench/_baseline.py (aiohttp + python-socketio, forwards to a room, no storage, no auth).

    python bench/relay.py                   # 32 pairs, 10 s per mode
    python bench/relay.py --pairs 64 --duration 20 --procs 1
    python bench/relay.py --smoke           # tiny run for CI
    python bench/relay.py --nodes 2 --redis # across 2 nodes through Redis (bench/_cluster.py)

Load generators are separate processes (``--procs``, default: cores - 1, at least 1) using a minimal
socket.io client (bench/_sio.py); the server child is pinned to the first core and the load generators to
the others, so the server keeps a core of its own where there is one.
Devices are registered with the client SDK first; the load clients then send opaque bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from bench._common import (
    BaselineServer,
    ChildServer,
    ConfidantServer,
    Table,
    bench_dir,
    cpu_count,
    percentile,
)
from bench._load import Endpoint, LoadSpec, Pair, WorkerResult, relay_worker


@dataclass
class ModeResult:
    target: str
    mode: str
    sent: int
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
    stages_us: list[tuple[float, float, float]] = dataclasses.field(default_factory=list)
    load_cpu_s: float = 0.0
    thread_cpu_s: dict[str, float] = dataclasses.field(default_factory=dict)  # server CPU by thread name

    @property
    def rate(self) -> float:
        return self.delivered / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def cpu_us_per_env(self) -> float:
        return self.cpu_s * 1e6 / self.delivered if self.delivered else float("nan")


def _worker_main(url: str, pairs: list[Pair], spec: LoadSpec, barrier: Any, queue: Any) -> None:
    try:
        queue.put(relay_worker(url, pairs, spec, barrier))
    except BaseException as exc:
        barrier.abort()
        queue.put(exc)
        raise


def run_mode(
    target: str,
    server: ChildServer,
    pairs: list[Pair],
    spec: LoadSpec,
    procs: int,
    profile: Path | None = None,
) -> ModeResult:
    ctx = multiprocessing.get_context("spawn")
    procs = max(1, min(procs, len(pairs)))
    barrier = ctx.Barrier(procs + 1)
    queue = ctx.Queue()
    slices = [pairs[i::procs] for i in range(procs)]
    workers = [
        ctx.Process(target=_worker_main, args=(server.url, s, spec, barrier, queue), daemon=True)
        for s in slices
    ]
    for w in workers:
        w.start()
    child = psutil.Process(server.pid)
    pin(child, [w.pid for w in workers if w.pid is not None])
    barrier.wait(timeout=120)
    cpu0 = child.cpu_times()
    threads0 = thread_cpu(child)
    spy = None
    if (
        profile is not None
    ):  # sample the server while it is under load (collapsed stacks, see bench/_pyspy.py)
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(max(1, int(spec.duration))),
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(profile),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    results: list[WorkerResult] = []
    for _ in workers:
        got = queue.get(timeout=spec.duration + spec.drain_timeout + 120)
        if isinstance(got, BaseException):
            raise RuntimeError(f"load worker failed: {got!r}")
        results.append(got)
    cpu1 = child.cpu_times()
    threads1 = thread_cpu(child)
    rss = child.memory_info().rss
    if spy is not None:
        spy.wait(timeout=60)
    for w in workers:
        w.join(timeout=30)
    lat = sorted(x for r in results for x in r.latencies_us)
    start = min(r.first_send for r in results)
    end = max((r.last_delivery for r in results), default=start)
    return ModeResult(
        target=target,
        mode=spec.mode,
        sent=sum(r.sent for r in results),
        acked=sum(r.acked for r in results),
        errors=sum(r.errors for r in results),
        delivered=sum(r.delivered for r in results),
        duplicates=sum(r.duplicates for r in results),
        elapsed=max(0.0, end - start),
        p50_ms=percentile(lat, 50) / 1000,
        p99_ms=percentile(lat, 99) / 1000,
        cpu_s=(cpu1.user + cpu1.system) - (cpu0.user + cpu0.system),
        rss_mb=rss / 2**20,
        error_samples=[e for r in results for e in r.error_samples][:3],
        stages_us=[x for r in results for x in r.stages_us],
        load_cpu_s=sum(r.cpu_s for r in results),
        thread_cpu_s={k: v - threads0.get(k, 0.0) for k, v in threads1.items()},
    )


def thread_cpu(proc: psutil.Process) -> dict[str, float]:
    """CPU seconds of the server's event-loop thread (the main thread) and of all its other threads (SQLite
    writer and readers, Redis, ...): Python threads carry no OS-visible names to tell those apart."""
    out = {"loop": 0.0, "threads": 0.0}
    for t in proc.threads():
        out["loop" if t.id == proc.pid else "threads"] += t.user_time + t.system_time
    return out


def pin(server: psutil.Process, workers: list[int]) -> None:
    """Server on the first core, load generators on the others (when there are others), so our own load
    never competes with the server for a core. Unrelated processes on the machine still can."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return
    server.cpu_affinity([cores[0]])
    for pid in workers:
        os.sched_setaffinity(pid, cores[1:])


def bare(spec: LoadSpec) -> LoadSpec:
    """The bare relay has one event per send and nothing to pull: batches and folded acks are Confidant's."""
    return dataclasses.replace(spec, batch=False, fold_ack=False)


def baseline_pairs(n: int) -> list[Pair]:
    def dev(kind: int, i: int) -> str:
        return f"{kind:02x}{i:030x}"

    return [
        Pair(
            sender=Endpoint({"device": dev(1, i), "account": dev(3, i)}, dev(1, i)),
            receiver=Endpoint({"device": dev(2, i), "account": dev(4, i)}, dev(2, i)),
            to_account=dev(4, i),
        )
        for i in range(n)
    ]


def specs(args: argparse.Namespace) -> list[LoadSpec]:
    out = []
    for mode in args.modes.split(","):
        if mode == "throughput":
            out.append(
                LoadSpec(
                    mode="throughput",
                    duration=args.duration,
                    window=args.window,
                    envelope_bytes=args.envelope_bytes,
                    batch=not args.single_sends,
                    fold_ack=not args.ack_events,
                )
            )
        elif mode == "paced":
            out.append(
                LoadSpec(
                    mode="paced",
                    duration=args.duration,
                    window=args.window,
                    rate_per_sender=args.rate / args.pairs,
                    envelope_bytes=args.envelope_bytes,
                    batch=not args.single_sends,
                    fold_ack=not args.ack_events,
                )
            )
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    return out


def run_target(target: str, args: argparse.Namespace, workdir: Path) -> list[ModeResult]:
    server: ChildServer
    if target == "confidant":
        server = ConfidantServer(
            workdir / "confidant-data", log_level=args.server_log_level, extra_args=args.server_arg
        )
        server.start()
        admin_code = server.admin_code()
        from bench._provision import provision_pairs

        pairs = asyncio.run(provision_pairs(server.url, admin_code, args.pairs))
    else:
        server = BaselineServer(workdir / "baseline.log")
        server.start()
        pairs = baseline_pairs(args.pairs)
    try:
        return [
            run_mode(
                target,
                server,
                pairs,
                spec if target == "confidant" else bare(spec),
                args.procs,
                workdir / f"profile-{target}-{spec.mode}.txt" if args.profile else None,
            )
            for spec in specs(args)
        ]
    finally:
        server.stop()


def report(results: list[ModeResult]) -> str:
    rows = []
    base = {r.mode: r for r in results if r.target == "baseline"}
    for r in results:
        b = base.get(r.mode)
        ratio = f"{r.rate / b.rate:.2f}" if b and b.rate and r.target != "baseline" else "-"
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
                f"{100 * r.cpu_s / r.elapsed:.0f}" if r.elapsed else "-",
                f"{r.rss_mb:.0f}",
                f"{r.cpu_us_per_env:.0f}",
                cpu_ratio(r, b),
            ]
        )
    table = Table(
        [
            "server",
            "mode",
            "acked",
            "delivered",
            "errors",
            "delivered/s",
            "vs baseline",
            "p50 ms",
            "p99 ms",
            "server CPU s",
            "server busy %",
            "server RSS MB",
            "server CPU us/env",
            "CPU/env vs baseline",
        ],
        rows,
    )
    return table.render()


def stages(results: list[ModeResult]) -> str:
    """Where each envelope's latency went, measured at the clients (one clock): send -> acknowledged to the
    sender, send -> woken (the first wake-up covering it reached the receiver), woken -> delivered (the pull).
    "slowest 1 %" averages each stage over the envelopes whose delivery latency is at or above the p99: what
    the tail is made of."""
    rows = []
    for r in results:
        if not r.stages_us:
            continue
        acked = sorted(a for a, _, _ in r.stages_us if a >= 0)
        woke = sorted(w for _, w, _ in r.stages_us)
        pull = sorted(d - w for _, w, d in r.stages_us)
        tail = sorted(r.stages_us, key=lambda x: x[2])[int(0.99 * len(r.stages_us)):]
        known = [a for a, _, _ in tail if a >= 0]

        def ms(v: float) -> str:
            return f"{v / 1000:.1f}"

        rows.append(
            [
                r.target,
                r.mode,
                f"{ms(percentile(acked, 50))} / {ms(percentile(acked, 99))}",
                f"{ms(percentile(woke, 50))} / {ms(percentile(woke, 99))}",
                f"{ms(percentile(pull, 50))} / {ms(percentile(pull, 99))}",
                f"{ms(sum(known) / len(known)) if known else '-'} / "
                f"{ms(sum(w for _, w, _ in tail) / len(tail))} / "
                f"{ms(sum(d - w for _, w, d in tail) / len(tail))}",
                f"{100 * r.load_cpu_s / r.elapsed:.0f}" if r.elapsed else "-",
                ", ".join(
                    f"{name} {1e6 * cpu / r.delivered:.0f}"
                    for name, cpu in sorted(r.thread_cpu_s.items(), key=lambda kv: -kv[1])
                    if r.delivered and cpu > 0.005
                ),
            ]
        )
    return Table(
        [
            "server",
            "mode",
            "acked p50 / p99 ms",
            "woken p50 / p99 ms",
            "pull p50 / p99 ms",
            "slowest 1 %: acked / woken / pull ms",
            "load gen busy %",
            "server CPU us/env by thread",
        ],
        rows,
    ).render()


def cpu_ratio(r: ModeResult, b: ModeResult | None) -> str:
    """Baseline CPU per envelope / ours: the throughput ratio both would reach when each is CPU-bound on one
    core. Unlike delivered/s it holds up when other processes share the machine."""
    if b is None or r is b or not r.delivered or not b.delivered:
        return "-"
    return f"{b.cpu_us_per_env / r.cpu_us_per_env:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=32, help="sender/receiver device pairs")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per mode")
    parser.add_argument("--window", type=int, default=64, help="in-flight sends per sender")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced mode: envelopes/s in total")
    parser.add_argument("--envelope-bytes", type=int, default=400)
    parser.add_argument("--procs", type=int, default=max(1, cpu_count() - 1), help="load-generator processes")
    parser.add_argument("--modes", default="throughput,paced")
    parser.add_argument("--targets", default="confidant,baseline")
    parser.add_argument("--server-log-level", default="warning")
    parser.add_argument("--server-arg", action="append", default=[], help="extra `confidant serve` argument")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the server (with --nodes: each node) in each mode (bench/out/...)",
    )
    parser.add_argument(
        "--single-sends", action="store_true", help="Confidant without send_batch (one event per send)"
    )
    parser.add_argument(
        "--ack-events", action="store_true", help="Confidant receivers ack with their own event, not in sync"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI (< 30 s)")
    parser.add_argument("--nodes", type=int, default=1, help="with --redis: nodes sharing one Redis")
    parser.add_argument("--redis", action="store_true", help="multi-node mode (bench/_cluster.py)")
    args = parser.parse_args(argv)
    if args.smoke:
        # 8 senders for 1 s: each stays far below the per-device send limit (3,000 a minute) even when the
        # relay runs at full speed, so the smoke run never meets rate_limited.
        args.pairs, args.duration, args.rate = 8, 1.0, 200.0
    if args.redis or args.nodes > 1:
        if not args.redis:
            parser.error("--nodes N needs --redis: nodes share presence, limits and live push through Redis")
        from bench._cluster import run_cluster

        return run_cluster(args, specs(args))
    workdir = bench_dir("relay-")
    print(
        f"relay: {args.pairs} pairs, {args.duration:g} s per mode, window {args.window}, "
        f"paced {args.rate:g}/s, "
        f"{args.envelope_bytes}-byte envelopes, {args.procs} load process(es), {cpu_count()} cores; "
        f"logs in {workdir.name}",
        flush=True,
    )
    results: list[ModeResult] = []
    started = time.monotonic()
    for target in args.targets.split(","):
        results.extend(run_target(target, args, workdir))
    print(report(results))
    print(stages(results))
    print(
        "server busy % = server CPU s / wall time; a throughput row far below 100 % was limited by the load "
        "generator (or other processes on the machine), not by that server."
    )
    failed = False
    for r in results:
        if r.error_samples:
            print(f"{r.target}/{r.mode} errors, e.g.: {r.error_samples}")
        if r.delivered == 0 or r.delivered < r.acked:
            print(f"FAIL {r.target}/{r.mode}: {r.acked} acknowledged, {r.delivered} delivered")
            failed = True
    print(f"total {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
