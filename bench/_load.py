"""Load-generator worker processes for bench/relay.py and bench/connections.py.

A worker owns a slice of the sender/receiver pairs, connects them with the raw socket.io client
(bench/_sio.py), waits on a barrier so every worker starts at the same instant, drives its senders, and
returns counts and latency samples. Message ids carry the send time (CLOCK_MONOTONIC is system-wide on
Linux, so sender and receiver processes share it): ``id = f"{monotonic_ns:016x}{counter:016x}"``.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import os
import time
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier, Event
from typing import Any

import aiohttp

from bench._sio import RawSioClient

SYNC_LIMIT = 500  # server/limits.py MAX_SYNC_LIMIT: one page per pull in the common case
ACK_EVERY = 32
MAX_BATCH = 32  # server/limits.py MAX_SENDS_PER_BATCH


@dataclass(frozen=True)
class Endpoint:
    """What a connection needs: its socket.io auth payload and its own device id."""

    auth: dict[str, str]
    device_id: str


@dataclass(frozen=True)
class Pair:
    sender: Endpoint
    receiver: Endpoint
    to_account: str


@dataclass
class WorkerResult:
    sent: int = 0
    acked: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    delivered: int = 0
    duplicates: int = 0
    latencies_us: list[float] = field(default_factory=list)
    first_send: float = 0.0
    last_delivery: float = 0.0
    # Per delivered envelope, microseconds from its send: (acknowledged to the sender, woken = the first
    # wake-up covering it reached its receiver (the bare relay's push is the delivery itself), delivered).
    stages_us: list[tuple[float, float, float]] = field(default_factory=list)
    cpu_s: float = 0.0  # this load generator's own CPU during the run


@dataclass(frozen=True)
class LoadSpec:
    mode: str  # "throughput" | "paced"
    duration: float
    window: int = 64
    rate_per_sender: float = 0.0
    envelope_bytes: int = 400
    drain_timeout: float = 20.0
    # The levers of issue #16, on by default as the clients use them; off to measure each one's effect.
    batch: bool = True  # every free window slot in ONE send_batch event (as the outboxes flush)
    fold_ack: bool = True  # the acknowledgement rides on the next sync (ack_up_to) instead of its own event


class _Receiver:
    """A receiving device as the clients behave (docs/API.md): Confidant's push is a wake-up carrying only a
    stream position, so the device pulls with ``sync`` from its cursor (pushes during a pull cause one more
    pull); the bare baseline relay pushes the envelopes themselves. Acknowledged every ``ACK_EVERY``
    envelopes; latency is measured when the envelope reaches the receiver."""

    def __init__(
        self, result: WorkerResult, progress: asyncio.Event, fold_ack: bool = True,
    ) -> None:
        self.result = result
        self.delivered_at: dict[str, tuple[int, int, int]] = {}  # id -> (sent, woken, delivered) ns
        self.wakes: collections.deque[tuple[int, int]] = collections.deque()  # (pos, monotonic ns)
        self.fold_ack = fold_ack
        self.ack_wanted = 0  # folded: carried by the next sync
        self.client: RawSioClient | None = None
        self.seen: set[str] = set()
        self.max_pos = 0
        self.unacked = 0
        self.changed = progress
        self.acks: set[asyncio.Future[None]] = set()
        self.pulling: asyncio.Task[None] | None = None
        self.pull_again = False

    def on_event(self, event: str, data: Any) -> None:
        if event != "inbox" or self.client is None:
            return
        if isinstance(data, dict) and "envelopes" in data:  # the bare baseline relay pushes the envelopes
            self._take(data["envelopes"])
            return
        if isinstance(data, dict) and isinstance(data.get("pos"), int):
            self.wakes.append((data["pos"], time.monotonic_ns()))
        if self.pulling is not None and not self.pulling.done():
            self.pull_again = True
            return
        self.pulling = asyncio.ensure_future(self._pull())

    async def _pull(self) -> None:
        assert self.client is not None
        while True:
            self.pull_again = False
            more = True
            while more:
                query: dict[str, Any] = {"after": self.max_pos, "limit": SYNC_LIMIT}
                if self.ack_wanted:
                    query["ack_up_to"], self.ack_wanted = self.ack_wanted, 0
                fut = await self.client.emit("sync", query)
                reply = await fut
                page = reply.get("result", {}) if isinstance(reply, dict) and reply.get("ok") else {}
                envelopes = page.get("envelopes", [])
                self._take(envelopes)
                more = bool(page.get("more")) and bool(envelopes)
            if not self.pull_again:
                return

    def _take(self, envelopes: list[dict[str, Any]]) -> None:
        now = time.monotonic_ns()
        for item in envelopes:
            self.max_pos = max(self.max_pos, int(item.get("pos", 0)))
            msg_id = item["id"]
            if msg_id in self.seen:
                self.result.duplicates += 1
                continue
            self.seen.add(msg_id)
            self.result.delivered += 1
            sent = int(msg_id[:16], 16)
            self.result.latencies_us.append((now - sent) / 1000)
            pos = int(item.get("pos", 0))
            while self.wakes and self.wakes[0][0] < pos:  # items come in stream order: older wakes are spent
                self.wakes.popleft()
            self.delivered_at[msg_id] = (sent, self.wakes[0][1] if self.wakes else now, now)
            self.unacked += 1
        self.result.last_delivery = now / 1e9
        if self.unacked >= ACK_EVERY and self.client is not None:
            self.unacked = 0
            if self.fold_ack and self.pulling is not None:  # a pulling receiver: ride on the next sync
                self.ack_wanted = self.max_pos
                self.changed.set()
                return
            task = asyncio.ensure_future(self._ack(self.max_pos))
            self.acks.add(task)
            task.add_done_callback(self.acks.discard)
        self.changed.set()

    async def _ack(self, up_to: int) -> None:
        assert self.client is not None
        fut = await self.client.emit("ack", {"up_to": up_to})
        await fut


def opaque_envelope(pair: Pair, size: int) -> bytes:
    """Random bytes shaped like a v1 "message" envelope (docs/PROTOCOL.md): the relay checks the version,
    the addressing and the padded length, never the content. ``size`` is rounded to the nearest valid
    length (34-byte binding + 40-byte ratchet header + 16-byte tag + a multiple of 160)."""
    blocks = max(1, round((size - 34 - 40 - 16) / 160))
    binding = bytes([1, 2]) + bytes.fromhex(pair.sender.device_id) + bytes.fromhex(pair.receiver.device_id)
    return binding + os.urandom(40 + 16 + 160 * blocks)


async def _connect(
    session: aiohttp.ClientSession, url: str, ep: Endpoint, on_event: Any = None
) -> RawSioClient:
    client = RawSioClient(session, url, on_event)
    await client.connect(ep.auth)
    return client


async def _sender(
    client: RawSioClient,
    pair: Pair,
    spec: LoadSpec,
    result: WorkerResult,
    t0: float,
    acked_at: dict[str, int],
) -> None:
    ciphertext = base64.b64encode(opaque_envelope(pair, spec.envelope_bytes)).decode()
    window = asyncio.Semaphore(spec.window)
    pending: set[asyncio.Future[Any]] = set()
    counter = 0
    end = t0 + spec.duration
    interval = 1.0 / spec.rate_per_sender if spec.mode == "paced" else 0.0

    def done(fut: asyncio.Future[Any], msg_id: str) -> None:
        pending.discard(fut)
        window.release()
        if fut.cancelled() or fut.exception() is not None:
            result.errors += 1
            return
        reply = fut.result()
        if isinstance(reply, dict) and reply.get("ok"):
            result.acked += 1
            acked_at[msg_id] = time.monotonic_ns()
        else:
            result.errors += 1
            if len(result.error_samples) < 3:
                result.error_samples.append(repr(reply)[:300])

    def batch_done(fut: asyncio.Future[Any], ids: list[str]) -> None:
        count = len(ids)
        now = time.monotonic_ns()
        pending.discard(fut)
        for _ in range(count):
            window.release()
        reply = None if fut.cancelled() or fut.exception() is not None else fut.result()
        ok = isinstance(reply, dict) and reply.get("ok")
        results = reply["result"].get("results") if ok and isinstance(reply, dict) else None
        if results is None:
            result.errors += count
            if len(result.error_samples) < 3:
                result.error_samples.append(repr(reply)[:300])
            return
        for item, msg_id in zip(results, ids, strict=False):
            if item.get("ok"):
                result.acked += 1
                acked_at[msg_id] = now
            else:
                result.errors += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(repr(item)[:300])
        result.errors += count - len(results)  # not attempted after a refusal

    def body() -> dict[str, Any]:
        nonlocal counter
        counter += 1
        msg_id = f"{time.monotonic_ns():016x}{counter:016x}"
        return {
            "id": msg_id,
            "to_account": pair.to_account,
            "envelopes": [
                {"v": 1, "to_device": pair.receiver.device_id, "type": "message", "ciphertext": ciphertext}
            ],
        }

    while True:
        now = time.monotonic()
        if now >= end:
            break
        if interval:
            due = t0 + counter * interval
            if due > now:
                await asyncio.sleep(due - now)  # pacing schedule, not synchronisation
        await window.acquire()
        if not spec.batch:
            one = body()
            fut = await client.emit("send", one)
            result.sent += 1
            pending.add(fut)
            fut.add_done_callback(lambda f, i=one["id"]: done(f, i))
            continue
        # What an outbox holds when it flushes: every send the window allows (paced: those already due).
        count = 1
        while count < MAX_BATCH and not window.locked() and (
            not interval or t0 + (counter + count) * interval <= time.monotonic()
        ):
            await window.acquire()
            count += 1
        if count == 1:
            one = body()
            fut = await client.emit("send", one)
            pending.add(fut)
            fut.add_done_callback(lambda f, i=one["id"]: done(f, i))
        else:
            sends = [body() for _ in range(count)]
            fut = await client.emit("send_batch", {"sends": sends})
            pending.add(fut)
            fut.add_done_callback(lambda f, ids=[b["id"] for b in sends]: batch_done(f, ids))
        result.sent += count
    if pending:
        await asyncio.wait(set(pending), timeout=spec.drain_timeout)


async def drain(
    receivers: list[_Receiver], result: WorkerResult, progress: asyncio.Event, timeout: float
) -> None:
    """Wait until every acknowledged envelope arrived (or ``timeout``). Halfway through, every receiver pulls
    once, as the clients' idle poll does: a wake-up dropped under overload (server/services/wakeups.py)
    costs a pull, never a message; an item a pull skipped would stay missing."""
    deadline = time.monotonic() + timeout
    polled = False
    while result.delivered < result.acked and time.monotonic() < deadline:
        if not polled and time.monotonic() > deadline - timeout / 2:
            polled = True
            for rec in receivers:
                if rec.client is not None and (rec.pulling is None or rec.pulling.done()):
                    rec.pulling = asyncio.ensure_future(rec._pull())
        progress.clear()
        try:
            await asyncio.wait_for(progress.wait(), 1.0)
        except TimeoutError:
            continue


async def _run(url: str, pairs: list[Pair], spec: LoadSpec, barrier: Barrier) -> WorkerResult:
    result = WorkerResult()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        progress = asyncio.Event()
        receivers = [_Receiver(result, progress, spec.fold_ack) for _ in pairs]
        for rec, pair in zip(receivers, pairs, strict=True):
            rec.client = await _connect(session, url, pair.receiver, rec.on_event)
        senders = [await _connect(session, url, p.sender) for p in pairs]
        acked_at: dict[str, int] = {}
        await asyncio.to_thread(barrier.wait)
        cpu0 = time.process_time()
        t0 = time.monotonic()
        result.first_send = t0
        await asyncio.gather(
            *(_sender(c, p, spec, result, t0, acked_at) for c, p in zip(senders, pairs, strict=True))
        )
        await drain(receivers, result, progress, spec.drain_timeout)
        result.cpu_s = time.process_time() - cpu0
        for rec in receivers:
            for msg_id, (sent, woke, got) in rec.delivered_at.items():
                acked = acked_at.get(msg_id)
                result.stages_us.append(
                    ((acked - sent) / 1000 if acked else -1.0, (woke - sent) / 1000, (got - sent) / 1000)
                )
        for rec in receivers:
            if (rec.unacked or rec.ack_wanted) and rec.client is not None:
                await rec._ack(rec.max_pos)
        for c in [*senders, *(r.client for r in receivers if r.client is not None)]:
            await c.close()
    return result


def relay_worker(url: str, pairs: list[Pair], spec: LoadSpec, barrier: Barrier) -> WorkerResult:
    return asyncio.run(_run(url, pairs, spec, barrier))


async def _hold(url: str, endpoints: list[Endpoint], connected: Barrier, release: Event) -> int:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        clients: list[RawSioClient] = []
        sem = asyncio.Semaphore(64)

        async def one(ep: Endpoint) -> None:
            async with sem:
                clients.append(await _connect(session, url, ep))

        await asyncio.gather(*(one(ep) for ep in endpoints))
        await asyncio.to_thread(connected.wait)
        await asyncio.to_thread(release.wait)
        alive = sum(1 for c in clients if not c.closed.is_set())
        await asyncio.gather(*(c.close() for c in clients))
    return alive


def hold_worker(url: str, endpoints: list[Endpoint], connected: Barrier, release: Event, nofile: int) -> int:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, nofile), hard), hard))
    return asyncio.run(_hold(url, endpoints, connected, release))
