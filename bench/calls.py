"""Call setup benchmark: time to ICE connected and to the first decoded video frame, N concurrent calls.

Each call is two aiortc peers with a synthetic camera (160x120) and microphone. Targets:

- ``inproc``:  the two peers exchange SDP through an in-process channel: the baseline (no server at all)
- ``server``:  therapist and client schedule, join, admit and signal through a real `confidant serve`
               child process (end-to-end sealed signaling, client SDK), as a real call would

each ``direct`` (host candidates on loopback) and ``turn`` (relay-only through a local coturn with
credentials minted by the server, or by signaling.turn for the baseline).

    python bench/calls.py                     # 1, 4 and 8 concurrent calls, all targets
    python bench/calls.py --pairs 1,16 --targets inproc
    python bench/calls.py --smoke             # tiny run for CI

Columns: "connected" = offer sent -> ICE + DTLS connected (caller); "first video" = offer received -> first
decoded video frame (callee); "both see video" = inproc: offer sent -> both decode video; server: POST
/sessions -> both decode video (schedule, join, waiting room, admit, sealed offer/answer, media).

Run inside a network namespace with only loopback (``make bench`` does): nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import secrets
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
from client.calls import run_call
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
        try:
            if "server" in targets:
                env = {"CONFIDANT_TURN_URLS": coturn.url, "CONFIDANT_TURN_SECRET": coturn.secret}
                server = ConfidantServer(Path(tmp) / "data", env=env, log_level="warning")
                await server.start_async()
                pairs = await provision(server, max(pair_counts), Path(tmp))
            for target in targets:
                for path in paths:
                    for count in pair_counts:
                        call = make_call(target, path, coturn, pairs, args)
                        rows.append(await run_row(target, path, count, call))
                        print(render(rows[-1:]).splitlines()[-1], flush=True)
        finally:
            for therapist, client in pairs:
                await therapist.close()
                await client.close()
            if server is not None:
                server.stop()
            coturn.stop()
    print()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {cpu_count()} cores, "
          f"{_cpu_model()}, Python {platform.python_version()}")
    print(render(rows))
    for r in rows:
        for err in r.errors[:3]:
            print(f"  {r.target}/{r.path}/{r.pairs}: {err}")
    return 0 if all(r.ok == r.pairs for r in rows) else 1


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
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    args = parser.parse_args(argv)
    if args.smoke:
        args.pairs = "1,2"
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
