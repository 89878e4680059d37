"""Opening a device: one instance per keystore, a failed or abandoned open leaves nothing running, and a
backlog reaches the application in order, each message once, while the event loop keeps ticking."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from client.device import Device
from client.errors import ApiError, TransportError
from client.keystore import KeystoreLocked
from tests.e2e.conftest import PASSPHRASE, Practice
from tests.fixtures.sdk_link import link_sdk_device


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The server stops answering without closing anything (SIGSTOP), as a hung host or partition would."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _run_queue_wait() -> float:
    """Seconds this thread has spent ready to run but waiting for a CPU (Linux schedstat); 0 where the
    kernel does not report it (every gap then counts in full)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _background_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def _queue(sender: Device, to: str, count: int, prefix: str) -> list[str]:
    ids = [sender.enqueue(to, f"{prefix} {i:05d}") for i in range(count)]
    await sender.flush(timeout=300)
    return ids


async def test_a_second_open_of_an_open_keystore_is_refused(practice: Practice) -> None:
    client = practice.client
    await client.accept_terms(practice.therapist.account_id)
    with pytest.raises(KeystoreLocked, match="already open"):
        await Device.open(client.keystore_path, PASSPHRASE)
    await client.send(practice.therapist.account_id, "still working")  # the first instance is untouched
    assert [m.body for m in await practice.therapist.receive(1, timeout=10)] == ["still working"]


async def test_failed_and_abandoned_opens_stop_everything_and_a_retry_delivers_each_message_once(
    practice: Practice,
) -> None:
    therapist, client = practice.therapist, practice.client
    await client.accept_terms(therapist.account_id)
    path = client.keystore_path
    await client.close()
    practice.devices.remove(client)
    sent = [f"backlog {i:05d}" for i in range(600)]
    for text in sent:
        therapist.enqueue(client.account_id, text)
    await therapist.flush(timeout=120)
    baseline = _background_tasks()

    # 1. the server hangs during the open: the open fails within its timeouts and leaves nothing behind
    with frozen(practice.server.pid):
        with pytest.raises(TransportError):
            await Device.open(path, PASSPHRASE, api_timeout=1.0, connect_timeout=1.0)
        assert _background_tasks() <= baseline, "a failed open left tasks running"

    # 2. the server hangs during the drain; the app gives up on this instance and closes it
    first = await Device.open(path, PASSPHRASE)
    got = [m.body for m in await first.receive(100, timeout=30)]
    with frozen(practice.server.pid):
        await first.close()
        assert _background_tasks() <= baseline, "a closed device left tasks running"

    # 3. a retry gets the rest: every acknowledged message exactly once, in order
    again = practice.remember(await Device.open(path, PASSPHRASE))
    got += [m.body for m in await again.receive(len(sent) - len(got), timeout=60)]
    assert got == sent
    with pytest.raises(TimeoutError):
        await again.receive(1, timeout=0.5)  # and nothing more (no message shown twice)


@pytest.mark.slow
async def test_a_5000_message_backlog_reaches_the_app_in_order_while_the_loop_keeps_ticking(
    practice: Practice,
) -> None:
    therapist, client = practice.therapist, practice.client
    await client.accept_terms(therapist.account_id)
    # Four other devices of the client write to the therapist in parallel (a device may send 3,000 a
    # minute); their copies fill the offline device's mailbox. Nobody else is online to decrypt them.
    senders = []
    for i in range(4):
        senders.append(practice.remember(await link_sdk_device(
            client, practice.keystore(f"phone-{i}"), PASSPHRASE, kdf="fast", connect=False
        )))
    path = client.keystore_path
    for device in (client, therapist):
        await device.close()
        practice.devices.remove(device)
    per_sender = 1250
    sent = {s.device_id: [f"{s.device_id[:6]} {i:04d}" for i in range(per_sender)] for s in senders}
    for sender in senders:
        for text in sent[sender.device_id]:
            sender.enqueue(therapist.account_id, text)
    await asyncio.gather(*(s.flush(timeout=300) for s in senders))

    gaps: list[tuple[float, float]] = []  # between two ticks: (wall time, of it waiting for a CPU)

    async def heartbeat() -> None:
        last, queued = time.monotonic(), _run_queue_wait()
        while True:
            await asyncio.sleep(0.01)
            now, now_queued = time.monotonic(), _run_queue_wait()
            gaps.append((now - last, now_queued - queued))
            last, queued = now, now_queued

    beat = asyncio.create_task(heartbeat())
    try:
        started = time.monotonic()
        device = practice.remember(await Device.open(path, PASSPHRASE))
        opened = time.monotonic() - started
        got = await device.receive(4 * per_sender, timeout=300)
    finally:
        beat.cancel()
    for sender in senders:
        mine = [m.body for m in got if m.from_device == sender.device_id]
        assert mine == sent[sender.device_id], "lost, duplicated or reordered"
    assert opened < 5, f"open waited for the backlog ({opened:.1f}s)"
    # The old keystore blocked the loop for tens of seconds here. A stall is the loop's own doing: a gap
    # between ticks less the time its thread was ready but other processes had the cores (a loaded machine
    # stretches every gap by that much; work or blocking I/O on the loop does not show up as run-queue time).
    stalls = [wall - queued for wall, queued in gaps]
    worst = max(range(len(gaps)), key=stalls.__getitem__)
    assert stalls[worst] < 1.0, (
        f"the event loop stalled for {stalls[worst]:.2f}s "
        f"({gaps[worst][0]:.2f}s between ticks, {gaps[worst][1]:.2f}s of it waiting for a CPU)"
    )


async def test_a_refused_registration_leaves_no_keystore_and_a_retry_at_the_same_path_works(
    practice: Practice,
) -> None:
    path = practice.keystore("retry")
    with pytest.raises(ApiError):  # an invitation already redeemed
        await Device.register(practice.server.url, practice.codes[1], path, PASSPHRASE, kdf="fast")
    assert not path.exists()
    code = (await practice.therapist.invite_client())["code"]
    device = practice.remember(await Device.register(practice.server.url, code, path, PASSPHRASE, kdf="fast"))
    assert device.role == "client"
