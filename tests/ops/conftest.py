"""Ops fixtures: a real `confidant serve` child process with an admin, a therapist and a consenting client,
plus readers for /metrics and the admin API. Every secret handed out is noted for the leak scans."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from client.device import Device
from tests.fixtures.server_proc import ConfidantServer

PASSPHRASE = "ops test passphrase"
TERMS = "Sessions are confidential, except a serious risk of harm, suspected abuse, or a court order."
SAMPLE_SECONDS = 1  # the relay's aggregate sampling period in these tests


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Reply:
    status: int
    body: Any
    text: str


@dataclass
class Relay:
    server: ConfidantServer
    root: Path
    admin: Device
    therapist: Device
    client: Device
    codes: list[str] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def tokens(self) -> list[str]:
        return [d.api.token for d in self.devices if d.api.token]

    async def call(self, method: str, path: str, device: Device | None = None, body: Any = None) -> Reply:
        headers = {}
        if device is not None:  # the device's current token (what its app would send)
            headers["Authorization"] = f"Bearer {device.api.token or await device.login()}"
        async with aiohttp.ClientSession() as http, http.request(
            method, self.url + path, json=body, headers=headers
        ) as resp:
            text = await resp.text()
            try:
                parsed: Any = await resp.json(content_type=None)
            except ValueError:
                parsed = None
            return Reply(resp.status, parsed, text)

    async def metrics(self) -> list[Sample]:
        async with aiohttp.ClientSession() as http, http.get(self.server.metrics_url) as resp:
            assert resp.status == 200
            text = await resp.text()
        return [Sample(s.name, dict(s.labels), s.value)
                for family in text_string_to_metric_families(text) for s in family.samples]

    async def value(self, name: str, **labels: str) -> float:
        return sum(s.value for s in await self.metrics()
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

    async def eventually(self, what: str, check: Callable[[], Awaitable[bool]],
                         timeout: float = 10.0) -> None:
        """Poll ``check`` until true (the relay samples its aggregates every SAMPLE_SECONDS)."""
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)  # polling interval, not synchronisation


def relay_server(tmp_path: Path, **kwargs: Any) -> ConfidantServer:
    env = {"CONFIDANT_METRICS_INTERVAL_SECONDS": str(SAMPLE_SECONDS), **kwargs.pop("env", {})}
    return ConfidantServer(tmp_path / "data", log_path=tmp_path / "server.log", env=env, **kwargs)


async def practice(server: ConfidantServer, root: Path) -> Relay:
    """An admin, a therapist and a client. Their devices send no delivery receipts (``receipts=False``): the
    ops tests count envelopes exactly, and a receipt per received page would add a timing-dependent number."""
    admin_code = server.admin_code()
    admin = await Device.register(server.url, admin_code, root / "admin.keystore", PASSPHRASE, kdf="fast",
                                  receipts=False)
    invite = await admin.invite_therapist()
    therapist = await Device.register(server.url, invite["code"], root / "therapist.keystore", PASSPHRASE,
                                      kdf="fast", receipts=False)
    await therapist.publish_terms(TERMS)
    client_invite = await therapist.invite_client()
    client = await Device.register(server.url, client_invite["code"], root / "client.keystore", PASSPHRASE,
                                   kdf="fast", receipts=False)
    await client.accept_terms(therapist.account_id)
    return Relay(server, root, admin, therapist, client, [admin_code, invite["code"], client_invite["code"]],
                 [admin, therapist, client])


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Relay]:
    server = relay_server(tmp_path)
    await server.start_async()
    relay = None
    try:
        relay = await practice(server, tmp_path / "devices")
        yield relay
    finally:
        if relay is not None:
            for device in relay.devices:
                await device.close()
        server.stop()
