"""The real app on a loopback port, against a real SQLite file, with an injected clock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from server.app import build_app
from server.config import Settings
from server.context import AppContext
from server.http.protocol import EdgeRunner
from storage.records import Role
from tests.fixtures.ports import free_port
from tests.server._kit import API, Device, Http, Keys, link_device


class FakeClock:
    """Milliseconds; starts at the real time, moves only when a test says so."""

    def __init__(self) -> None:
        self.now = time.time_ns() // 1_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@dataclass
class Server:
    url: str
    ctx: AppContext
    clock: FakeClock
    http: Http
    data_dir: Path
    devices: list[Device] = field(default_factory=list)

    async def admin(self) -> Device:
        created = await self.ctx.services.invitations.create_by_operator(Role.ADMIN)
        return await self.redeem(created.code)

    async def redeem(self, code: str, keys: Keys | None = None) -> Device:
        keys = keys or Keys()
        r = await self.http.call("POST", f"{API}/accounts", keys.register_body(code))
        assert r.status == 201, r.body
        device = Device(
            self.http,
            keys,
            r.body["account_id"],
            r.body["device_id"],
            r.body["role"],
            linked_account_id=r.body["linked_account_id"],
        )
        await device.login()
        self.devices.append(device)
        return device

    async def invite(self, inviter: Device, role: str, **extra: Any) -> str:
        r = await inviter.call("POST", f"{API}/invitations", {"role": role, **extra})
        assert r.status == 201, r.body
        code: str = r.body["code"]
        return code

    async def therapist(self, admin: Device | None = None) -> Device:
        admin = admin or await self.admin()
        return await self.redeem(await self.invite(admin, "therapist"))

    async def client(self, therapist: Device) -> Device:
        return await self.redeem(await self.invite(therapist, "client"))

    async def publish_terms(
        self, therapist: Device, text: str = "Terms v1: confidential except risk of harm."
    ) -> Any:
        r = await therapist.call("PUT", f"{API}/consent/terms", {"text": text})
        assert r.status == 200, r.body
        return r.body

    async def consent(self, client: Device, therapist: Device) -> None:
        r = await client.call("GET", f"{API}/therapists/{therapist.account_id}/terms")
        assert r.status == 200, r.body
        import base64

        body = client.consent_body(
            therapist.account_id, r.body["version"], base64.b64decode(r.body["terms_hash"]), self.clock()
        )
        r = await client.call("POST", f"{API}/consent", body)
        assert r.status == 200, r.body

    async def pair(self) -> tuple[Device, Device]:
        """A therapist and a client who consented to the therapist's current terms."""
        therapist = await self.therapist()
        client = await self.client(therapist)
        await self.publish_terms(therapist)
        await self.consent(client, therapist)
        return therapist, client

    async def add_device(self, owner: Device) -> Device:
        """Approved linking (docs/PROTOCOL.md section 17), both devices driven through the HTTP API."""
        keys = owner.keys.linked()
        link_id = await link_device(self.http, owner, keys)
        r = await self.http.call("POST", f"{API}/devices", {"link_id": link_id, "device": keys.payload()})
        assert r.status == 201, r.body
        device = Device(self.http, keys, owner.account_id, r.body["device_id"], owner.role)
        await device.login()
        self.devices.append(device)
        return device

    async def count(self, table: str) -> int:
        engine = self.ctx.storage.engine  # type: ignore[attr-defined]

        def read(conn: Any) -> int:
            value: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            return value

        result: int = await engine.read(read)
        return result

    async def counts(self) -> dict[str, int]:
        tables = (
            "accounts",
            "invitations",
            "links",
            "devices",
            "one_time_prekeys",
            "link_codes",
            "challenges",
            "tokens",
            "terms",
            "consents",
            "sends",
            "mailbox",
        )
        return {t: await self.count(t) for t in tables}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Server]:
    port = free_port()
    settings = Settings(host="127.0.0.1", port=port, data_dir=tmp_path / "data", web_root=None)
    built = build_app(settings, clock=clock)
    # The sweeper and other timers are driven by tests through the clock, never by time; the wake-up worker
    # is not a timer (it emits what sends queued) and runs as in production.
    built.ctx.background[:] = [(name, task) for name, task in built.ctx.background if name == "wake-ups"]
    # Every test client shares 127.0.0.1: per-IP limits would trip on fixtures. Per-device limits stay real.
    for rule in ("redeem_per_ip", "challenge_per_ip", "token_per_ip"):
        built.ctx.services.limiter.rules[rule] = (100_000, 60.0)
    runner = EdgeRunner(built.app, access_log=None)  # what `confidant serve` runs
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    async with aiohttp.ClientSession() as session:
        srv = Server(
            f"http://127.0.0.1:{port}",
            built.ctx,
            clock,
            Http(f"http://127.0.0.1:{port}", session),
            tmp_path / "data",
        )
        try:
            yield srv
        finally:
            for device in srv.devices:
                for sock in device.sockets:
                    if sock.connected:
                        await sock.disconnect()
            await runner.cleanup()
