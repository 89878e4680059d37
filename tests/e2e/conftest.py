"""End-to-end fixtures: a real `confidant serve` child process and SDK devices talking to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from client._wire import b64d
from client.device import Device
from crypto import OneTimePreKeyPair, SignedPreKeyPair
from tests.fixtures.sdk_link import link_sdk_device
from tests.fixtures.server_proc import ConfidantServer

PASSPHRASE = "correct horse battery staple"
TERMS = (
    "What you say in our sessions and messages stays between us. Exceptions: a serious risk of harm to "
    "you or others, suspected abuse of a child or vulnerable adult, and a court order."
)


@dataclass
class Practice:
    """An admin, a therapist and a consenting client registered on one server, with every secret handed
    out along the way (the log / database scans look for each of them)."""

    server: ConfidantServer
    root: Path
    admin: Device
    therapist: Device
    client: Device
    codes: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    private_keys: list[bytes] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)

    def keystore(self, name: str) -> Path:
        return self.root / f"{name}.keystore"

    def remember(self, device: Device) -> Device:
        """Note the device's bearer token and private keys (for the scans) and close it at teardown."""
        if device not in self.devices:
            self.devices.append(device)
        if device.api.token and device.api.token not in self.tokens:
            self.tokens.append(device.api.token)
        self.private_keys.extend(k for k in private_keys(device) if k not in self.private_keys)
        return device

    async def reopen(self, device: Device) -> Device:
        """Close a device and open it again from its keystore (a restart of the app)."""
        self.remember(device)
        await device.close()
        return self.remember(await Device.open(device.keystore_path, PASSPHRASE))

    async def link_device(self, owner: Device, name: str) -> Device:
        """Approved linking from ``owner`` (docs/PROTOCOL.md section 17)."""
        return self.remember(await link_sdk_device(owner, self.keystore(name), PASSPHRASE, kdf="fast"))


def private_keys(device: Device) -> list[bytes]:
    """Every private key the device holds right now: identity seed and its X25519 form, prekey secrets."""
    state = device.state
    keys = [device.identity.to_bytes(), device.identity.x25519().secret_bytes()]
    keys += [
        SignedPreKeyPair.from_bytes(b64d(v)).key_pair.secret_bytes() for v in state.signed_prekeys.values()
    ]
    keys += [
        OneTimePreKeyPair.from_bytes(b64d(v)).key_pair.secret_bytes() for v in state.one_time_prekeys.values()
    ]
    return keys


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ConfidantServer]:
    srv = ConfidantServer(tmp_path / "data", log_path=tmp_path / "server.log")
    await srv.start_async()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def practice(server: ConfidantServer, tmp_path: Path) -> AsyncIterator[Practice]:
    root = tmp_path / "devices"
    admin_code = server.admin_code()
    admin = await Device.register(server.url, admin_code, root / "admin.keystore", PASSPHRASE, kdf="fast")
    invite = await admin.invite_therapist()
    therapist = await Device.register(
        server.url, invite["code"], root / "therapist.keystore", PASSPHRASE, kdf="fast"
    )
    await therapist.publish_terms(TERMS)
    client_invite = await therapist.invite_client()
    client = await Device.register(
        server.url, client_invite["code"], root / "client.keystore", PASSPHRASE, kdf="fast"
    )
    p = Practice(
        server, root, admin, therapist, client, codes=[admin_code, invite["code"], client_invite["code"]]
    )
    for device in (admin, therapist, client):
        p.remember(device)
    try:
        yield p
    finally:
        for device in p.devices:
            p.remember(device)
            await device.close()


async def next_event(device: Device, name: str, timeout: float = 30) -> dict[str, object]:
    """The next ``{"event": name, ...}`` notice on ``device.events`` (others are skipped)."""

    async def wait() -> dict[str, object]:
        while True:
            event = await device.events.get()
            if isinstance(event, dict) and event.get("event") == name:
                return event

    return await asyncio.wait_for(wait(), timeout)
