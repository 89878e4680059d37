"""Two Chromium browsers in a relay-only call (iceTransportPolicy "relay") through a real coturn reached over
TURN TCP and over TURN TLS (the fixture's self-signed certificate): a client behind a firewall that lets only
TCP / 443 out still sees and hears the other side. Asserts decoded video frames both ways and that the
nominated candidate pair is a relay allocated over tcp / tls (Chromium's own getStats). Chromium trusts only
the relay's certificate (its SPKI pinned in the launch): a TLS failure shows as no relay candidate."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.async_api import Browser, Page, Playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LOOP
from tests.fixtures.coturn_proc import Coturn, coturn

pytestmark = [pytest.mark.browser, pytest.mark.webrtc]
__all__ = ["coturn"]

# A peer with a synthetic camera (a canvas that changes every frame) and microphone (an oscillator): no
# device permission needed on a blank page. Media and ICE are Chromium's own; only the SDP is passed by hand.
_PEER = """
async ({ iceServers }) => {
  const canvas = Object.assign(document.createElement("canvas"), { width: 160, height: 120 });
  const g = canvas.getContext("2d");
  let n = 0;
  setInterval(() => { g.fillStyle = `hsl(${(n += 7) % 360} 70% 50%)`; g.fillRect(0, 0, 160, 120); }, 33);
  const audio = new AudioContext();
  const tone = audio.createOscillator();
  const out = audio.createMediaStreamDestination();
  tone.connect(out);
  tone.start();
  const tracks = [...canvas.captureStream(30).getVideoTracks(), ...out.stream.getAudioTracks()];
  const stream = new MediaStream(tracks);
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay" });
  for (const t of stream.getTracks()) pc.addTrack(t, stream);
  window.pc = pc;
  window.cands = [];
  pc.addEventListener("icecandidate", (e) => e.candidate && cands.push(e.candidate.toJSON()));
  // Relay-only gathering may never report "complete" (Chromium keeps trying other routes): the SDP is sent
  // once it holds a relay candidate; later ones trickle (an allocation Chromium drops is replaced).
  window.gathered = () => new Promise((resolve) => {
    const check = () => pc.localDescription && pc.localDescription.sdp.includes(" typ relay ") && resolve();
    pc.addEventListener("icecandidate", check);
    check();
  });
}
"""

_OFFER = """async () => {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered();
  return pc.localDescription.sdp;
}"""

_ANSWER = """async (sdp) => {
  await pc.setRemoteDescription({ type: "offer", sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered();
  return pc.localDescription.sdp;
}"""

# What a user would see (decoded frames) and the path the media took (the transport's selected pair).
_STATS = """async () => {
  const report = await pc.getStats();
  let frames = 0, audioBytes = 0, pairId = null;
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
    if (s.type === "inbound-rtp" && s.kind === "audio") audioBytes += s.bytesReceived || 0;
    if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  const pair = pairId && report.get(pairId);
  const local = pair && report.get(pair.localCandidateId);
  return { frames, audioBytes, pair: pair ? pair.state : null,
           local: local ? { type: local.candidateType, relayProtocol: local.relayProtocol || null } : null };
}"""


@pytest_asyncio.fixture(loop_scope=LOOP)
async def pinned_browser(playwright: Playwright, coturn: Coturn) -> AsyncIterator[Browser]:
    """Chromium that trusts exactly the relay's self-signed certificate (its SPKI pinned), nothing more."""
    cert = x509.load_pem_x509_certificate(coturn.cert_path.read_bytes())
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    spki = base64.b64encode(hashlib.sha256(der).digest()).decode()
    args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki}"]
    b = await playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    try:
        yield b
    finally:
        await b.close()


def _credentials(coturn: Coturn, who: str) -> tuple[str, str]:
    """TURN REST credentials, as the server mints them (signaling/turn.py): valid ten minutes."""
    username = f"{int(time.time()) + 600}:{who}"
    digest = hmac.new(coturn.secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


async def _peer(browser: Browser, coturn: Coturn, url: str, who: str) -> Page:
    page = await (await browser.new_context()).new_page()
    username, credential = _credentials(coturn, who)
    await page.evaluate(
        _PEER, {"iceServers": [{"urls": url, "username": username, "credential": credential}]}
    )
    return page


async def _trickle(src: Page, dst: Page, sent: int) -> int:
    """Hand ``dst`` the candidates ``src`` gathered since the last call, as a signaling server would."""
    fresh: list[dict[str, Any]] = await src.evaluate(f"cands.slice({sent})")
    for cand in fresh:
        await dst.evaluate("(c) => pc.addIceCandidate(c)", cand)
    return sent + len(fresh)


async def _wait_for_frames(a: Page, b: Page, frames: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Polls getStats (asynchronous: wait_for_function cannot await it) until both decoded ``frames``."""
    deadline = time.monotonic() + timeout
    sent = {"a": 0, "b": 0}
    while True:
        sent["a"] = await _trickle(a, b, sent["a"])
        sent["b"] = await _trickle(b, a, sent["b"])
        stats: list[dict[str, Any]] = [await a.evaluate(_STATS), await b.evaluate(_STATS)]
        if all(s["frames"] > frames for s in stats):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"no {frames} decoded video frames both ways within {timeout} s: {stats}")
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_two_chromium_browsers_call_relay_only_over_turn_tcp_and_tls(
    transport: str, pinned_browser: Browser, coturn: Coturn
) -> None:
    url = coturn.tcp_url if transport == "tcp" else coturn.tls_url
    a = await _peer(pinned_browser, coturn, url, f"a-{transport}")
    b = await _peer(pinned_browser, coturn, url, f"b-{transport}")
    offer = await a.evaluate(_OFFER)
    assert " typ relay " in offer and " typ host " not in offer  # relay-only: nothing else offered
    answer = await b.evaluate(_ANSWER, offer)
    await a.evaluate("async (sdp) => pc.setRemoteDescription({ type: 'answer', sdp })", answer)

    for stats in await _wait_for_frames(a, b, 20):
        assert stats["pair"] == "succeeded"
        assert stats["audioBytes"] > 0
        assert stats["local"] == {"type": "relay", "relayProtocol": transport}
    if transport == "tls":  # coturn logs the cipher of each allocation made over TLS
        await coturn.wait_for_log(r"username=<\d+:a-tls>, lifetime=\d+, cipher=\S+, method=TLS")
