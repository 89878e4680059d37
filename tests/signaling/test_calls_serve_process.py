"""End to end through a real `confidant serve` child process configured for coturn (environment settings)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from client.calls import run_call
from client.device import Device
from tests.fixtures.coturn_proc import Coturn
from tests.fixtures.server_proc import ConfidantServer
from tests.signaling._kit import TERMS

pytestmark = pytest.mark.webrtc


@pytest.fixture
async def served(tmp_path: Path, coturn: Coturn) -> AsyncIterator[ConfidantServer]:
    env = {"CONFIDANT_TURN_URLS": coturn.url, "CONFIDANT_TURN_SECRET": coturn.secret}
    server = ConfidantServer(tmp_path / "data", env=env, log_level="warning")
    await server.start_async()
    try:
        yield server
    finally:
        server.stop()


async def test_a_relay_only_call_through_confidant_serve_and_coturn(
    served: ConfidantServer, coturn: Coturn, tmp_path: Path, loopback_ice: None
) -> None:
    async def register(code: str, name: str) -> Device:
        return await Device.register(
            served.url, code, tmp_path / f"{name}.keystore", "passphrase", kdf="fast", connect=False
        )

    admin = await register(served.admin_code(), "admin")
    therapist = await register((await admin.invite_therapist())["code"], "therapist")
    client = await register((await therapist.invite_client())["code"], "client")
    try:
        await therapist.publish_terms(TERMS)
        await client.accept_terms(therapist.account_id)

        direct = await run_call(therapist, client, hold_s=0.2)
        relayed = await run_call(therapist, client, relay_only=True, hold_s=0.2)

        assert direct.therapist.selected_local_type == "host"
        assert direct.client.frames_received["video"] > 0 and direct.therapist.frames_received["video"] > 0
        assert (relayed.therapist.selected_local_type, relayed.client.selected_local_type) == (
            "relay",
            "relay",
        )
        assert relayed.client.frames_received["video"] > 0 and relayed.therapist.frames_received["video"] > 0
        await coturn.wait_for_log(r"user <\d+:[0-9a-f]{32}>: incoming packet ALLOCATE processed, success")
        assert client.account_id not in coturn.log_text()  # TURN users are opaque per session
        sessions = (await therapist.api.request("GET", "/sessions"))["sessions"]
        assert [s["state"] for s in sessions] == ["ended", "ended"]
    finally:
        for device in (admin, therapist, client):
            await device.close()
