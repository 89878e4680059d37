// The pre-call check of the waiting room: camera and microphone pickers, a microphone level, a test sound,
// and a network check (can this browser reach the session's TURN relay over UDP, TCP and TLS? roughly how
// fast is the link?), with advice in plain words. Nothing here is sent anywhere but the relay and the server.

const RELAY_TIMEOUT_MS = 6000;

export async function listDevices() {
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: all.filter((d) => d.kind === "videoinput"),
    mics: all.filter((d) => d.kind === "audioinput"),
  };
}

/** Calls onLevel(0..1) about ten times a second with the microphone's loudness; returns a stop function. */
export function levelMeter(stream, onLevel) {
  if (!stream || !stream.getAudioTracks().length || typeof AudioContext === "undefined") return () => {};
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getByteTimeDomainData(data);
    let sum = 0;
    for (const v of data) sum += ((v - 128) / 128) ** 2;
    onLevel(Math.min(1, Math.sqrt(sum / data.length) * 4));
  }, 100);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    ctx.close().catch(() => {});
  };
}

/** A short, gentle tone on the speakers (or headphones). */
export async function testSound() {
  const ctx = new AudioContext();
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.frequency.value = 523.25;
  gain.gain.setValueAtTime(0.0001, ctx.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + 0.05);
  gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.9);
  osc.connect(gain).connect(ctx.destination);
  osc.start();
  osc.stop(ctx.currentTime + 1);
  osc.onended = () => ctx.close().catch(() => {});
}

function transportOf(url) {
  if (url.startsWith("turns:")) return "tls";
  return /transport=tcp/.test(url) ? "tcp" : "udp";
}

/** Can we get a relay address from each TURN URL? [{transport, ok, ms}], one per transport offered. */
export async function checkRelays(iceServers) {
  const urls = [];
  for (const s of iceServers) for (const url of [].concat(s.urls)) urls.push({ url, username: s.username, credential: s.credential });
  return Promise.all(urls.map((u) => relayReachable(u).then((r) => ({ transport: transportOf(u.url), ...r }))));
}

async function relayReachable({ url, username, credential }) {
  const started = performance.now();
  const pc = new RTCPeerConnection({ iceServers: [{ urls: url, username, credential }], iceTransportPolicy: "relay" });
  try {
    pc.createDataChannel("check");
    const found = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), RELAY_TIMEOUT_MS);
      pc.onicecandidate = (e) => {
        if (e.candidate && / typ relay /.test(e.candidate.candidate)) {
          clearTimeout(timer);
          resolve(true);
        } else if (!e.candidate) {
          clearTimeout(timer);
          resolve(false);
        }
      };
    });
    await pc.setLocalDescription(await pc.createOffer());
    const ok = await found;
    return { ok, ms: Math.round(performance.now() - started) };
  } finally {
    pc.close();
  }
}

/** A rough download speed in Mbit/s: time to fetch the app's own script again, uncached. */
export async function downloadSpeed() {
  const script = document.querySelector("script[type=module][src]");
  if (!script) return null;
  const started = performance.now();
  const res = await fetch(script.src, { cache: "no-store" });
  const bytes = (await res.arrayBuffer()).byteLength;
  const seconds = (performance.now() - started) / 1000;
  return seconds > 0 ? (bytes * 8) / seconds / 1e6 : null;
}

/** Plain-language advice for what failed; [] when everything looks fine. */
export function advice({ relays, mbps, camera, mic }) {
  const out = [];
  if (!camera) out.push("We could not find a camera. You can still join with sound only; check that no other app is using the camera.");
  if (!mic) out.push("We could not find a microphone. Check that it is plugged in and that this site may use it.");
  const by = {};
  for (const r of relays || []) by[r.transport] = by[r.transport] || r.ok;
  if (relays && relays.length) {
    if (by.udp === false && (by.tcp || by.tls)) out.push("Your network blocks the fastest route (UDP). The call will still work through a slower route; if it stutters, try another network or turn off a VPN.");
    else if (!relays.some((r) => r.ok)) out.push("Your network blocks the route video calls use. Try another Wi-Fi or your phone's mobile data, or ask your IT team to allow video calls.");
  } else if (relays) out.push("This server has no relay configured: a call works only if both networks allow a direct connection.");
  if (mbps !== null && mbps !== undefined && mbps < 1.5) out.push("Your connection looks slow. Close other apps or videos, move closer to the Wi-Fi router, or turn your camera off if the picture freezes.");
  return out;
}
