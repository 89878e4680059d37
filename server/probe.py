"""``confidant probe``: a synthetic end-to-end check of a running relay, meant for cron or a monitoring agent.

It does what a person does, through the public API only, with the Python SDK:

1. ``GET /readyz`` answers 200.
2. Two probe devices log in (challenge-response): a *probe therapist* and its *probe client*.
3. The client sends an end-to-end encrypted message to the therapist, which receives and decrypts it; the
   therapist answers the same way. Both directions are timed (send acknowledged, message decrypted).
4. Optionally (``--call``), a short video call through ``signaling`` (``--relay-only``: media via TURN).

The probe accounts are created once, from ONE therapist invitation the operator provides (``--invitation``,
made with ``confidant admin invite`` or the admin dashboard), or, for a relay on this machine, minted
directly in its data directory (``--bootstrap-data-dir``). The probe therapist publishes terms, invites its
probe client, which accepts them: afterwards the pair is an ordinary linked pair. Keystores and a random
passphrase live in ``--state`` (created 0700); later runs reuse them.

Output: exactly one line on stdout, ``PROBE OK ...`` (exit 0) or ``PROBE FAIL step=... ...`` (exit 1).
Usage or state problems exit 2. The line never carries message content, ids, tokens or codes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["ProbeFailure", "ProbeResult", "add_probe_parser", "run_probe"]

T = TypeVar("T")

TERMS = ("Confidant probe account. This account exists only to check that the relay delivers end-to-end "
         "encrypted messages; it carries no person's data.")
STATE_FILE = "probe.json"


class ProbeFailure(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


class ProbeUsageError(Exception):
    """The probe cannot start: missing invitation, unreadable state directory."""


@dataclass
class ProbeResult:
    url: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    call: str = "skipped"

    def line(self) -> str:
        parts = " ".join(f"{k}={v:.0f}" for k, v in self.timings_ms.items())
        return f"PROBE OK url={self.url} {parts} call={self.call}"


def add_probe_parser(commands: Any) -> None:
    probe = commands.add_parser(
        "probe", help="synthetic end-to-end check of a running relay (one line, exit status)",
        description="Send an end-to-end encrypted message through a running relay and measure its delivery. "
        "The first run creates two probe accounts from a therapist invitation (--invitation) or, for a relay "
        "on this machine, from its data directory (--bootstrap-data-dir); later runs reuse --state.",
    )
    probe.add_argument("--url", required=True, help="base URL of the relay, e.g. https://confidant.example")
    probe.add_argument("--state", type=Path, default=Path("probe-state"),
                       help="directory holding the probe keystores (default: ./probe-state)")
    probe.add_argument("--invitation",
                       help="therapist invitation code (first run only); write --invitation=CODE, a code "
                       "may start with -")
    probe.add_argument("--bootstrap-data-dir", type=Path,
                       help="the relay's data directory: mint the first-run invitation locally")
    probe.add_argument("--call", action="store_true", help="also place a short video call (aiortc)")
    probe.add_argument("--relay-only", action="store_true", help="with --call: media only through TURN")
    probe.add_argument("--timeout", type=float, default=20.0,
                       help="seconds allowed for each step (default 20)")


def _readyz(url: str, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/readyz", timeout=timeout) as resp:
            if resp.status != 200:
                raise ProbeFailure("readyz", f"status {resp.status}")
    except urllib.error.HTTPError as exc:
        raise ProbeFailure("readyz", f"status {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ProbeFailure("readyz", f"unreachable ({type(exc).__name__})") from None


async def _step(step: str, timeout: float, work: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(work, timeout)
    except ProbeFailure:
        raise
    except TimeoutError:
        raise ProbeFailure(step, f"no answer within {timeout:g}s") from None
    except Exception as exc:
        code = getattr(exc, "code", None)
        raise ProbeFailure(step, str(code) if isinstance(code, str) else type(exc).__name__) from None


def _passphrase(state: Path) -> str:
    env = os.environ.get("CONFIDANT_PROBE_PASSPHRASE")
    if env:
        return env
    path = state / "passphrase"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _local_invitation(data_dir: Path) -> str:
    """A therapist invitation minted in the relay's own database (the operator runs on that machine)."""
    from server.app import build_app
    from server.config import load_settings
    from storage.records import Role

    async def mint() -> str:
        built = build_app(load_settings({"data_dir": str(data_dir)}, env={}))
        try:
            created = await built.ctx.services.invitations.create_by_operator(Role.THERAPIST, 3600)
        finally:
            await built.ctx.storage.close()
        return created.code

    return asyncio.run(mint())


async def _enrol(url: str, state: Path, passphrase: str, code: str, timeout: float) -> tuple[Any, Any]:
    """First run: the probe pair. A failure removes the half-made keystores so that a rerun with a fresh
    invitation starts clean (the server keeps the half-made account; an admin may disable it)."""
    from client.device import Device

    keystores = (state / "therapist.keystore", state / "client.keystore")
    for stale in keystores:
        stale.unlink(missing_ok=True)
    therapist = client = None
    try:
        therapist = await _step("register", timeout, Device.register(url, code, keystores[0], passphrase))
        await _step("publish_terms", timeout, therapist.publish_terms(TERMS))
        invitation = await _step("invite_client", timeout, therapist.invite_client())
        client = await _step("register", timeout, Device.register(url, invitation["code"], keystores[1],
                                                                  passphrase))
        await _step("consent", timeout, client.accept_terms(therapist.account_id))
    except BaseException:
        for device in (client, therapist):
            if device is not None:
                await device.close()
        for stale in keystores:
            stale.unlink(missing_ok=True)
        raise
    (state / STATE_FILE).write_text(json.dumps({"version": 1}))
    return therapist, client


async def _exchange(sender: Any, receiver: Any, step: str, timeout: float, timings: dict[str, float]) -> None:
    """One E2EE message sender -> receiver; stale probe messages from an earlier failed run are skipped."""
    nonce = f"probe {secrets.token_hex(8)}"
    start = time.perf_counter()
    await _step(f"{step}_send", timeout, sender.send(receiver.account_id, nonce))
    acked = time.perf_counter()

    async def until_ours() -> None:
        async for message in receiver.messages():
            body = message.body.decode() if isinstance(message.body, bytes) else str(message.body)
            if body == nonce:
                return

    await _step(f"{step}_deliver", timeout, until_ours())
    timings[f"{step}_ack_ms"] = (acked - start) * 1000
    timings[f"{step}_deliver_ms"] = (time.perf_counter() - start) * 1000


async def _probe(args: argparse.Namespace, code: str | None) -> ProbeResult:
    from client.device import Device

    url = args.url.rstrip("/")
    result = ProbeResult(url)
    started = time.perf_counter()
    await asyncio.to_thread(_readyz, url, args.timeout)
    state: Path = args.state
    passphrase = _passphrase(state)
    therapist = client = None
    try:
        if (state / STATE_FILE).exists():
            therapist = await _step("login", args.timeout,
                                    Device.open(state / "therapist.keystore", passphrase, server_url=url))
            client = await _step("login", args.timeout,
                                 Device.open(state / "client.keystore", passphrase, server_url=url))
        else:
            assert code is not None
            therapist, client = await _enrol(url, state, passphrase, code, args.timeout)
        await _exchange(client, therapist, "c2t", args.timeout, result.timings_ms)
        await _exchange(therapist, client, "t2c", args.timeout, result.timings_ms)
        if args.call:
            from client.calls import run_call

            call = run_call(therapist, client, relay_only=args.relay_only, hold_s=0.5, timeout=args.timeout)
            timings = await _step("call", args.timeout * 2, call)
            result.call = f"ok connect_ms={timings.connected_s * 1000:.0f}"
            if args.relay_only:
                result.call += " via=turn"
        result.timings_ms["total_ms"] = (time.perf_counter() - started) * 1000
        return result
    finally:
        for device in (client, therapist):
            if device is not None:
                await device.close()


def run_probe(args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    """Run the probe from parsed arguments; print the one-line verdict; return the exit status."""
    url = args.url.rstrip("/")
    try:
        state: Path = args.state
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        code: str | None = None
        if not (state / STATE_FILE).exists():
            if args.invitation:
                code = args.invitation
            elif args.bootstrap_data_dir:
                code = _local_invitation(args.bootstrap_data_dir)
            else:
                raise ProbeUsageError(f"no probe accounts in {state}: pass --invitation CODE (a therapist "
                                      "invitation) or --bootstrap-data-dir DIR for the first run")
        result = asyncio.run(_probe(args, code))
    except ProbeUsageError as exc:
        say(f"PROBE FAIL step=setup url={url} reason={exc}")
        return 2
    except ProbeFailure as exc:
        say(f"PROBE FAIL step={exc.step} url={url} reason={exc.reason}")
        return 1
    except OSError as exc:
        say(f"PROBE FAIL step=state url={url} reason={type(exc).__name__}")
        return 2
    say(result.line())
    return 0
