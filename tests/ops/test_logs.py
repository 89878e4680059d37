"""After a whole run (accounts, consent, messages, device link, admin actions, a probe), the relay's
structured log holds no message content, no bearer token, no private key and no invitation or link code."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess

from tests.fixtures.sdk_link import link_sdk_device
from tests.fixtures.server_proc import CONFIDANT
from tests.ops.conftest import PASSPHRASE, Relay

API = "/api/v1"


def _forms(secret: bytes) -> list[str]:
    return [base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret).decode().rstrip("="),
            secret.hex()]


async def test_logs_hold_no_content_tokens_keys_or_codes(relay: Relay) -> None:
    texts = [f"secret number {i}: my sister must not know" for i in range(3)]
    for text in texts:
        await relay.client.send(relay.therapist.account_id, text)
    await relay.therapist.receive(3)
    tablet = await link_sdk_device(relay.client, relay.root / "tablet.keystore", PASSPHRASE, kdf="fast")
    relay.devices.append(tablet)
    await relay.therapist.send(relay.client.account_id, "reply to both devices")
    await tablet.receive(1)
    await relay.call("POST", f"{API}/admin/accounts/{relay.therapist.account_id}/disable", relay.admin)
    await relay.call("POST", f"{API}/admin/accounts/{relay.therapist.account_id}/enable", relay.admin)
    probe = await asyncio.to_thread(
        subprocess.run, [str(CONFIDANT), "probe", "--url", relay.url, "--state", str(relay.root / "probe"),
                         "--bootstrap-data-dir", str(relay.server.data_dir)],
        capture_output=True, text=True, timeout=120)
    assert probe.stdout.startswith("PROBE OK"), probe.stdout + probe.stderr

    log = relay.server.log_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert len(lines) > 20 and all("level" in line and "msg" in line for line in lines)
    assert any("request_id" in line for line in lines)

    secrets: list[str] = [*texts, "reply to both devices", "my sister", *relay.codes,
                          *relay.tokens()]
    for device in relay.devices:
        secrets += _forms(device.identity.to_bytes())
        secrets += _forms(device.identity.x25519().secret_bytes())
    for secret in secrets:
        assert secret not in log, f"the log contains {secret[:12]!r}..."
