"""Register benchmark devices through the client SDK: one therapist and one consenting client per pair.

Keystores use the "fast" Argon2id preset (these are throwaway benchmark identities). The load clients then
reuse each device's bearer token and send opaque bytes: the relay cannot tell them from real envelopes.
The server rate-limits registrations and logins per client IP; each pair registers from its own loopback
address (127.0.0.0/8 is all loopback on Linux) so provisioning hundreds of devices stays within the limits.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench._load import Endpoint, Pair
from client.device import Device

TERMS = "Benchmark terms: what is said here stays here, except where the law requires otherwise."


def source_host(index: int) -> str:
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


async def _pair(url: str, admin: Device, root: Path, index: int) -> Pair:
    invite = await admin.invite_therapist()
    therapist = await Device.register(
        url,
        invite["code"],
        root / f"t{index}.ks",
        "bench",
        kdf="fast",
        connect=False,
        source_host=source_host(2 * index),
    )
    await therapist.publish_terms(TERMS)
    client_invite = await therapist.invite_client()
    client = await Device.register(
        url,
        client_invite["code"],
        root / f"c{index}.ks",
        "bench",
        kdf="fast",
        connect=False,
        source_host=source_host(2 * index + 1),
    )
    await client.accept_terms(therapist.account_id)
    pair = Pair(
        sender=Endpoint({"token": str(client.api.token)}, client.device_id),
        receiver=Endpoint({"token": str(therapist.api.token)}, therapist.device_id),
        to_account=therapist.account_id,
    )
    await therapist.close()
    await client.close()
    return pair


async def provision_pairs(url: str, admin_code: str, count: int, concurrency: int = 8) -> list[Pair]:
    root = Path(tempfile.mkdtemp(prefix="bench-keystores-"))
    admin = await Device.register(url, admin_code, root / "admin.ks", "bench", kdf="fast", connect=False)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Pair:
        async with sem:
            return await _pair(url, admin, root, i)

    try:
        return list(await asyncio.gather(*(one(i) for i in range(count))))
    finally:
        await admin.close()


async def provision_endpoints(
    url: str, admin_code: str, count: int, tokens_per_device: int = 1
) -> list[Endpoint]:
    """``count`` authenticated connection endpoints: therapist devices, each logged in ``tokens_per_device``
    times (each login is a separate token, as separate browser tabs would have)."""
    root = Path(tempfile.mkdtemp(prefix="bench-keystores-"))
    admin = await Device.register(url, admin_code, root / "admin.ks", "bench", kdf="fast", connect=False)
    devices = -(-count // tokens_per_device)
    sem = asyncio.Semaphore(8)

    async def one(i: int) -> list[Endpoint]:
        async with sem:
            invite = await admin.invite_therapist()
            dev = await Device.register(
                url,
                invite["code"],
                root / f"d{i}.ks",
                "bench",
                kdf="fast",
                connect=False,
                source_host=source_host(i),
            )
            out = [Endpoint({"token": str(dev.api.token)}, dev.device_id)]
            for _ in range(tokens_per_device - 1):
                out.append(Endpoint({"token": await dev.login()}, dev.device_id))
            await dev.close()
            return out

    try:
        groups = await asyncio.gather(*(one(i) for i in range(devices)))
    finally:
        await admin.close()
    return [ep for group in groups for ep in group][:count]
