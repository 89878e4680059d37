"""Call setup benchmark: time to ICE connected and to the first decoded video frame, N concurrent calls.

Each call is two aiortc peers with a synthetic camera (160x120) and microphone. Targets:

- ``inproc``:  the two peers exchange SDP through an in-process channel: the baseline (no server at all)
- ``server``:  therapist and client schedule, join, admit and signal through a real `confidant serve`
               child process (end-to-end sealed signaling, client SDK), as a real call would

each ``direct`` (host candidates on loopback) and ``turn`` (relay-only through a local coturn with
credentials minted by the server, or by signaling.turn for the baseline).

    python bench/calls.py                     # 1, 4 and 8 concurrent calls, all targets; meshes of 2, 3, 4
    python bench/calls.py --pairs 1,16 --targets inproc --mesh ""
    python bench/calls.py --smoke             # tiny run for CI (meshes of 2 and 3)

Group sessions (``--mesh 2,3,4``): join -> all connected for N participants in a full mesh (every pair
connected), through the server (therapist + N-1 clients: join, admit, sealed per-join signaling, the
therapist's roster, every pair's ICE + DTLS) next to a bare aiortc mesh of the same size (``mesh-inproc``:
the same peers, SDP exchanged in process), each direct and relay-only.

Columns: "connected" = offer sent -> ICE + DTLS connected (caller); "first video" = offer received -> first
decoded video frame (callee); "both see video" = inproc: offer sent -> both decode video; server: POST
/sessions -> both decode video (schedule, join, waiting room, admit, sealed offer/answer, media).

Run inside a network namespace with only loopback (``make bench`` does): nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aioice.ice
from aiortc import RTCIceServer

from bench._common import ConfidantServer, Table, cpu_count, percentile
from client.calls import Call, run_call, schedule_session
from client.device import Device
from signaling.loopback import channel_pair
from signaling.peer import CallPeer
from signaling.turn import mint_turn_credentials
from tests.fixtures.coturn_proc import Coturn


@dataclass
class CallTiming:
    connected_s: float  # caller: offer created -> ICE + DTLS connected
    first_video_s: float  # callee: offer received -> first decoded video frame from the caller
    setup_s: float  # inproc: offer -> both see video; server: POST /sessions -> both see video


@dataclass
class Row:
    target: str
    path: str
    pairs: int
    ok: int
    timings: list[CallTiming]
    errors: list[str]


CallFn = Callable[[int], Awaitable[CallTiming]]


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


async def inproc_call(ice: list[RTCIceServer], relay_only: bool, timeout: float) -> CallTiming:
    a, b = channel_pair()
    caller = CallPeer(a, ice_servers=ice, relay_only=relay_only, name="therapist")
    callee = CallPeer(b, ice_servers=ice, relay_only=relay_only, name="client")
    callee.start()
    start = time.perf_counter()
    try:
        await caller.call()
        stats = await caller.wait_connected(timeout)
        await asyncio.gather(callee.wait_frames("video", 1, timeout), caller.wait_frames("video", 1, timeout))
        setup = time.perf_counter() - start
        assert stats.connected_after is not None
        return CallTiming(stats.connected_after, callee.stats().first_frame_after["video"], setup)
    finally:
        await caller.hang_up()
        await callee.close()


async def run_row(target: str, path: str, pairs: int, call: CallFn) -> Row:
    results = await asyncio.gather(*(call(i) for i in range(pairs)), return_exceptions=True)
    timings = [r for r in results if isinstance(r, CallTiming)]
    errors = [f"{type(r).__name__}: {r}"[:200] for r in results if isinstance(r, BaseException)]
    return Row(target, path, pairs, len(timings), timings, errors)


def render(rows: list[Row]) -> str:
    def ms(values: list[float], q: float) -> str:
        return f"{percentile(sorted(values), q) * 1000:.0f}"

    table = Table(
        [
            "target",
            "path",
            "calls",
            "ok",
            "connected p50 ms",
            "p95",
            "first video p50 ms",
            "p95",
            "both see video p50 ms",
            "p95",
        ],
        [],
    )
    for r in rows:
        con = [t.connected_s for t in r.timings]
        vid = [t.first_video_s for t in r.timings]
        setup = [t.setup_s for t in r.timings]
        table.rows.append(
            [
                r.target,
                r.path,
                str(r.pairs),
                str(r.ok),
                ms(con, 50),
                ms(con, 95),
                ms(vid, 50),
                ms(vid, 95),
                ms(setup, 50),
                ms(setup, 95),
            ]
        )
    return table.render()


async def main_async(args: argparse.Namespace) -> int:
    aioice.ice.get_host_addresses = _loopback_only  # the namespace's only address; see the module doc
    pair_counts = [int(p) for p in args.pairs.split(",")]
    targets = args.targets.split(",")
    paths = args.paths.split(",")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="confidant-bench-calls-") as tmp:
        coturn = Coturn(Path(tmp))
        coturn.start()
        server: ConfidantServer | None = None
        pairs: list[tuple[Device, Device]] = []
        sizes = [int(s) for s in args.mesh.split(",") if s.strip()]
        devices_to_close: list[Device] = []
        mesh: list[str] = []
        try:
            if "server" in targets or sizes:
                env = {"CONFIDANT_TURN_URLS": coturn.url, "CONFIDANT_TURN_SECRET": coturn.secret}
                server = ConfidantServer(Path(tmp) / "data", env=env, log_level="warning")
                await server.start_async()
                pairs = await provision(server, max(pair_counts, default=1), Path(tmp))
            for target in targets:
                for path in paths:
                    for count in pair_counts:
                        call = make_call(target, path, coturn, pairs, args)
                        rows.append(await run_row(target, path, count, call))
                        print(render(rows[-1:]).splitlines()[-1], flush=True)
            if sizes and server is not None:
                group = await provision_group(pairs[0][0], max(sizes), Path(tmp))
                devices_to_close = group
                mesh = await mesh_rows(sizes, paths, coturn, group, args)
        finally:
            for therapist, client in pairs:
                await therapist.close()
                await client.close()
            for device in devices_to_close[1:]:  # the first is a pair's therapist, closed above
                await device.close()
            if server is not None:
                server.stop()
            coturn.stop()
    print()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {cpu_count()} cores, "
          f"{_cpu_model()}, Python {platform.python_version()}")
    print(render(rows))
    if mesh:
        print()
        print(f"join -> all connected, full mesh, median of {args.mesh_runs} runs (ratio: confidant / bare)")
        print("\n".join(mesh))
    for r in rows:
        for err in r.errors[:3]:
            print(f"  {r.target}/{r.path}/{r.pairs}: {err}")
    return 0 if all(r.ok == r.pairs for r in rows) else 1


async def mesh_inproc(size: int, ice: list[RTCIceServer], relay_only: bool, timeout: float) -> float:
    """The baseline: ``size`` aiortc peers, one connection per pair, signaling in process."""
    peers: list[CallPeer] = []
    start = time.perf_counter()
    try:
        callers = []
        for i in range(size):
            for j in range(i + 1, size):
                a, b = channel_pair()
                caller = CallPeer(a, ice_servers=ice, relay_only=relay_only, name=f"p{i}-{j}")
                callee = CallPeer(b, ice_servers=ice, relay_only=relay_only, name=f"p{j}-{i}")
                callee.start()
                peers += [caller, callee]
                callers.append(caller)
        await asyncio.gather(*(c.call() for c in callers))
        await asyncio.gather(*(p.wait_connected(timeout) for p in peers))
        return time.perf_counter() - start
    finally:
        for p in peers:
            await p.close()


async def mesh_server(group: list[Device], relay_only: bool, timeout: float) -> float:
    """Therapist + clients through the server: join -> every pair connected (both ends)."""
    therapist, clients = group[0], group[1:]
    sid = (await schedule_session(therapist, [c.account_id for c in clients], duration_s=1800))["session_id"]
    calls: list[Call] = []
    start = time.perf_counter()
    try:
        host = await Call.join(therapist, sid, relay_only=relay_only)
        calls.append(host)
        guests = list(await asyncio.gather(*(Call.join(c, sid, relay_only=relay_only) for c in clients)))
        calls += guests
        for c in clients:
            await host.admit(c.account_id)
        await asyncio.gather(*(g.wait_admitted(timeout) for g in guests))
        others = len(group) - 1
        await asyncio.gather(*(call.connect_all(others, timeout) for call in calls))
        await asyncio.gather(*(p.wait_connected(timeout) for call in calls for p in call.peers.values()))
        return time.perf_counter() - start
    finally:
        with contextlib.suppress(Exception):
            await calls[0].end()
        for call in calls[1:]:
            await call.close()


async def mesh_rows(sizes: list[int], paths: list[str], coturn: Coturn, group: list[Device],
                    args: argparse.Namespace) -> list[str]:
    creds = mint_turn_credentials(secret=coturn.secret, user=secrets.token_hex(16), urls=(coturn.url,),
                                  ttl_seconds=600)
    turn = [RTCIceServer(urls=coturn.url, username=creds.username, credential=creds.credential)]
    table = Table(["mesh of", "path", "bare aiortc mesh ms", "through confidant ms", "ratio"], [])
    for path in paths:
        relay = path == "turn"
        for size in sizes:
            runs = range(args.mesh_runs)  # interleaved, so a busy moment on the machine hits both alike
            base_runs, served_runs = [], []
            for _ in runs:
                base_runs.append(await mesh_inproc(size, turn if relay else [], relay, args.timeout))
                served_runs.append(await mesh_server(group[:size], relay, args.timeout))
            base, served = statistics.median(base_runs), statistics.median(served_runs)
            table.rows.append([str(size), path, f"{base * 1000:.0f}", f"{served * 1000:.0f}",
                               f"{served / base:.1f}x"])
            print(table.render().splitlines()[-1], flush=True)
    return table.render().splitlines()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.platform()


async def provision(server: ConfidantServer, count: int, root: Path) -> list[tuple[Device, Device]]:
    """``count`` therapist + consenting client pairs, each device registering from its own loopback address
    (the server rate-limits registrations per IP; 127.0.0.0/8 is all loopback)."""

    def source(i: int) -> str:
        return f"127.0.{1 + i // 250}.{1 + i % 250}"

    admin = await Device.register(server.url, server.admin_code(), root / "admin.ks", "bench", kdf="fast",
                                  connect=False, source_host=source(0))
    out = []
    try:
        for i in range(count):
            code = (await admin.invite_therapist())["code"]
            therapist = await Device.register(server.url, code, root / f"t{i}.ks", "bench", kdf="fast",
                                              connect=False, source_host=source(2 * i + 1))
            await therapist.publish_terms("Bench terms: confidential, except a serious risk of harm.")
            code = (await therapist.invite_client())["code"]
            client = await Device.register(server.url, code, root / f"c{i}.ks", "bench", kdf="fast",
                                           connect=False, source_host=source(2 * i + 2))
            await client.accept_terms(therapist.account_id)
            out.append((therapist, client))
    finally:
        await admin.close()
    return out


async def provision_group(therapist: Device, size: int, root: Path) -> list[Device]:
    """The therapist and ``size - 1`` new consenting clients of theirs (a family session)."""
    group = [therapist]
    for i in range(size - 1):
        code = (await therapist.invite_client())["code"]
        client = await Device.register(server_url(therapist), code, root / f"gc{i}.ks", "bench", kdf="fast",
                                       connect=False, source_host=f"127.0.200.{1 + i}")
        await client.accept_terms(therapist.account_id)
        group.append(client)
    return group


def server_url(device: Device) -> str:
    return device.api.base_url


def make_call(
    target: str, path: str, coturn: Coturn, pairs: list[tuple[Device, Device]], args: argparse.Namespace
) -> CallFn:
    relay = path == "turn"
    if target == "inproc":
        creds = mint_turn_credentials(
            secret=coturn.secret, user=secrets.token_hex(16), urls=(coturn.url,), ttl_seconds=600
        )
        server = RTCIceServer(urls=coturn.url, username=creds.username, credential=creds.credential)
        ice = [server] if relay else []

        async def call(_: int) -> CallTiming:
            return await inproc_call(ice, relay, args.timeout)

        return call
    if target == "server":

        async def server_call(i: int) -> CallTiming:
            therapist, client = pairs[i]
            t = await run_call(therapist, client, relay_only=relay, hold_s=0, timeout=args.timeout)
            return CallTiming(t.connected_s, t.client.first_frame_after["video"], t.total_s)

        return server_call
    raise SystemExit(f"unknown target {target!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pairs", default="1,4,8", help="comma-separated numbers of concurrent calls")
    parser.add_argument("--targets", default="inproc,server")
    parser.add_argument("--paths", default="direct,turn")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per call before it counts as failed"
    )
    parser.add_argument("--mesh", default="2,3,4", help="group sizes (people) for the mesh rows; '' for none")
    parser.add_argument("--mesh-runs", type=int, default=3, help="runs per mesh row (the median is shown)")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    args = parser.parse_args(argv)
    if args.smoke:
        args.pairs = "1,2"
        args.mesh = "2,3"
        args.mesh_runs = 1
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
