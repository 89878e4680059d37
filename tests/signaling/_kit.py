"""The real app (in-process, loopback port, SQLite, coturn configured) and SDK devices for call tests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from client.device import Device
from server.app import build_app
from server.config import Settings
from server.context import AppContext
from storage.records import Role
from tests.fixtures.coturn_proc import Coturn
from tests.fixtures.ports import free_port

TERMS = "Sessions are confidential, except where there is a serious risk of harm or a legal order."


@dataclass
class CallServer:
    url: str
    ctx: AppContext
    tmp: Path
    devices: list[Device] = field(default_factory=list)
    _n: int = 0

    async def _register(self, code: str) -> Device:
        self._n += 1
        device = await Device.register(
            self.url, code, self.tmp / f"device{self._n}.keystore", "passphrase", kdf="fast", connect=False
        )
        self.devices.append(device)
        return device

    async def admin(self) -> Device:
        created = await self.ctx.services.invitations.create_by_operator(Role.ADMIN)
        return await self._register(created.code)

    async def therapist(self) -> Device:
        admin = await self.admin()
        therapist = await self._register((await admin.invite_therapist())["code"])
        await therapist.publish_terms(TERMS)
        return therapist

    async def client(self, therapist: Device, *, consent: bool = True) -> Device:
        client = await self._register((await therapist.invite_client())["code"])
        if consent:
            await client.accept_terms(therapist.account_id)
        return client


@contextlib.asynccontextmanager
async def serve(
    tmp: Path,
    coturn: Coturn | None,
    clock: Callable[[], int] | None = None,
    turn_urls: tuple[str, ...] | None = None,
) -> AsyncIterator[CallServer]:
    """``coturn=None``: no TURN configured (tests of the room that never connect media); ``turn_urls``
    replaces the coturn's UDP URL (TCP, TLS)."""
    port = free_port()
    settings = Settings(
        host="127.0.0.1",
        port=port,
        data_dir=tmp / "data",
        web_root=None,
        turn_urls=turn_urls or ((coturn.url,) if coturn is not None else ()),
        turn_secret=coturn.secret if coturn is not None else None,
    )
    built = build_app(settings, clock=clock) if clock is not None else build_app(settings)
    for rule in list(built.ctx.services.limiter.rules):  # every test device shares 127.0.0.1
        if rule.endswith("_per_ip"):
            built.ctx.services.limiter.rules[rule] = (100_000, 60.0)
    runner = web.AppRunner(built.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    srv = CallServer(f"http://127.0.0.1:{port}", built.ctx, tmp)
    try:
        yield srv
    finally:
        for device in srv.devices:
            await device.close()
        await runner.cleanup()


def now_ms() -> int:
    return time.time_ns() // 1_000_000
