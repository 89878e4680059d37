"""TURN credentials minted by signaling.turn, checked by a real coturn with the same shared secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

import pytest
from aiortc import RTCIceServer

from client.calls import run_call
from signaling.loopback import channel_pair
from signaling.peer import CallPeer, NoRelayCandidates
from signaling.turn import TurnCredentials, mint_turn_credentials
from tests.fixtures.coturn_proc import Coturn
from tests.signaling._kit import serve


def test_credentials_follow_the_turn_rest_scheme() -> None:
    creds = mint_turn_credentials(
        secret="s3cret", user="ab" * 16, urls=("turn:t:3478",), ttl_seconds=600, now=1_700_000_000
    )
    assert creds.username == f"1700000600:{'ab' * 16}"
    expected = base64.b64encode(hmac.new(b"s3cret", creds.username.encode(), hashlib.sha1).digest()).decode()
    assert creds.credential == expected
    assert creds.expires_at == 1_700_000_600_000
    assert TurnCredentials.from_wire(creds.to_wire()) == creds


@pytest.mark.parametrize("account_id", ["a:b"])
def test_an_account_id_cannot_forge_the_expiry_field(account_id: str) -> None:
    with pytest.raises(ValueError):
        mint_turn_credentials(secret="s", user=account_id, urls=())


def _servers(coturn: Coturn, creds: TurnCredentials) -> list[RTCIceServer]:
    return [RTCIceServer(urls=list(creds.urls), username=creds.username, credential=creds.credential)]


@pytest.mark.webrtc
@pytest.mark.usefixtures("loopback_ice")
async def test_a_relay_only_call_connects_through_coturn_with_minted_credentials(coturn: Coturn) -> None:
    account = secrets.token_hex(16)
    creds = mint_turn_credentials(secret=coturn.secret, user=account, urls=(coturn.url,), ttl_seconds=300)
    a, b = channel_pair()
    caller = CallPeer(a, ice_servers=_servers(coturn, creds), relay_only=True, name="therapist")
    callee = CallPeer(b, ice_servers=_servers(coturn, creds), relay_only=True, name="client")
    callee.start()
    try:
        await caller.call()
        stats = await caller.wait_connected()
        assert stats.local_candidate_types == ("relay",)
        assert (stats.selected_local_type, stats.selected_remote_type) == ("relay", "relay")
        await caller.wait_frames("video", 10)
        await callee.wait_frames("video", 10)
        await coturn.wait_for_log(rf"user <{creds.username}>: incoming packet ALLOCATE processed, success")
    finally:
        await caller.hang_up()
        await callee.wait_ended()
    # coturn accounts relayed bytes per allocation when it closes: the media really went through the relay.
    await coturn.wait_for_relayed_bytes(creds.username, at_least=20_000)


@pytest.mark.webrtc
@pytest.mark.usefixtures("loopback_ice")
@pytest.mark.parametrize("problem", ["expired", "wrong secret"])
async def test_coturn_refuses_expired_or_forged_credentials(coturn: Coturn, problem: str) -> None:
    account = secrets.token_hex(16)
    secret, ttl = (coturn.secret, -60) if problem == "expired" else ("not-the-secret", 300)
    creds = mint_turn_credentials(secret=secret, user=account, urls=(coturn.url,), ttl_seconds=ttl)
    a, _b = channel_pair()
    caller = CallPeer(a, ice_servers=_servers(coturn, creds), relay_only=True)
    try:
        with pytest.raises(NoRelayCandidates, match="credentials wrong or expired"):
            await caller.call()
        await coturn.wait_for_log(rf"user <{creds.username}>: incoming packet message processed, error 401")
        assert "relay" not in caller.stats().local_candidate_types
        assert caller.stats().connection_state == "new"
    finally:
        await caller.close()


def test_the_shipped_coturn_config_uses_the_rest_secret_and_refuses_private_peers() -> None:
    conf = (Path(__file__).resolve().parents[2] / "infra" / "coturn" / "turnserver.conf").read_text()
    lines = {line.strip() for line in conf.splitlines() if line.strip() and not line.startswith("#")}
    assert {"use-auth-secret", "no-cli", "no-loopback-peers", "no-multicast-peers", "fingerprint"} <= lines
    assert any(line.startswith("static-auth-secret=") for line in lines)
    denied = {line.split("=", 1)[1] for line in lines if line.startswith("denied-peer-ip=")}
    for private in (
        "10.0.0.0-10.255.255.255",
        "172.16.0.0-172.31.255.255",
        "192.168.0.0-192.168.255.255",
        "127.0.0.0-127.255.255.255",
        "169.254.0.0-169.254.255.255",
        "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ):
        assert private in denied
    assert not any(line.startswith(("user=", "lt-cred-mech", "allow-loopback-peers")) for line in lines)


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_a_relay_only_call_over_turn_tcp_and_tls_for_a_network_that_allows_only_tcp(
    transport: str, coturn: Coturn, tmp_path: Path, loopback_ice: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client behind a firewall that lets only TCP (443) out: TURN over TCP, and over TLS with the
    relay's certificate checked (the test trusts the fixture's self-signed one)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(coturn.cert_path))
    url = coturn.tcp_url if transport == "tcp" else coturn.tls_url
    async with serve(tmp_path, coturn, turn_urls=(url,)) as srv:
        therapist = await srv.therapist()
        client = await srv.client(therapist)
        timings = await run_call(therapist, client, relay_only=True, hold_s=0.3)
    for stats in (timings.therapist, timings.client):
        assert (stats.selected_local_type, stats.selected_remote_type) == ("relay", "relay")
        assert stats.frames_received["video"] > 0
    if transport == "tls":  # coturn logs the cipher of each allocation made over TLS
        await coturn.wait_for_log(r"username=<\d+:[0-9a-f]{32}>, lifetime=\d+, cipher=\S+, method=TLS")
