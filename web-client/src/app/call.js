// One video session on this device: waiting room, admission, WebRTC with signals sealed end to end
// (docs/PROTOCOL.md §8, same as the Python SDK's client/calls.py), and connection quality from getStats.
// The therapist places the calls (sends offers); clients answer. Signal payloads are the SDK's
// SignalMessage JSON: {"kind": "offer"|"answer"|"candidate"|"hangup", ...} (signaling/messages.py).
import { fromB64, fromHex, fromUtf8, toB64, utf8 } from "../lib/bytes.js";
import * as boxed from "../crypto/signaling.js";
import { trustedDevices } from "./trust.js";

const STATS_PERIOD_MS = 1000;
const PLACE_RETRY_MS = 8000;

export class CallController extends EventTarget {
  constructor(device, sessionId) {
    super();
    this.d = device;
    this.sessionId = sessionId;
    this.state = "starting"; // starting | waiting | admitted | connected | ended | error
    this.error = null;
    this.session = null;
    this.room = { members: [] };
    this.iceServers = [];
    this.local = null;
    this.peers = new Map(); // account_id -> peer
    this.muted = false;
    this.cameraOff = false;
    this.stats = null;
    this._off = [];
    this._statsTimer = null;
  }

  get isHost() {
    return this.d.role === "therapist";
  }

  _set(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("change", { detail: { what: "state" } }));
  }

  _emit(what) {
    this.dispatchEvent(new CustomEvent("change", { detail: { what } }));
  }

  async start() {
    const rt = this.d.rt;
    this._off.push(
      rt.on("call.waiting", (e) => e && e.session_id === this.sessionId && this._emit("room")),
      rt.on("call.state", (e) => {
        if (!e || e.session_id !== this.sessionId) return;
        this.room = e;
        this._emit("room");
      }),
      rt.on("call.admitted", (e) => {
        if (!e || e.session_id !== this.sessionId) return;
        this.room = e.room;
        this.iceServers = iceServers(e.turn);
        this._set("admitted");
      }),
      rt.on("call.signal", (e) => e && e.session_id === this.sessionId && this._onSignal(e)),
      rt.on("call.ended", (e) => e && e.session_id === this.sessionId && this._finish("The session has ended.")),
      rt.on("call.removed", (e) => e && e.session_id === this.sessionId && this._finish("You have left the session.")),
    );
    try {
      this.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    } catch {
      this.local = null; // a call without camera/microphone still receives
    }
    this._emit("local");
    let joined;
    try {
      joined = await this.d.rt.request("call.join", { session_id: this.sessionId });
    } catch (e) {
      this.error = e.message;
      this._set("error");
      return;
    }
    this.session = joined.session;
    this.room = joined.room;
    this.iceServers = iceServers(joined.turn);
    this._set(joined.state === "waiting" ? "waiting" : "admitted");
    this._emit("room");
    if (this.isHost) {
      for (const m of this.room.members)
        if (m.account_id !== this.d.me.account_id && (m.state === "admitted" || m.state === "connected")) this._place(m.account_id, m.device_id);
    }
    this._statsTimer = setInterval(() => this._sample(), STATS_PERIOD_MS);
  }

  waiting() {
    return this.room.members.filter((m) => m.state === "waiting" && m.account_id !== this.d.me.account_id);
  }

  async admit(accountId) {
    const room = await this.d.rt.request("call.admit", { session_id: this.sessionId, account_id: accountId });
    this.room = room;
    this._emit("room");
    const m = room.members.find((x) => x.account_id === accountId);
    if (m) await this._place(accountId, m.device_id);
  }

  // ---- peers -----------------------------------------------------------------------------------------

  _peerKey(accountId, deviceId) {
    // Only certified devices of an accepted account key (app/trust.js): none while a key change waits.
    const dev = trustedDevices(this.d, accountId).find((x) => x.device_id === deviceId);
    return dev ? fromB64(dev.identity_key) : null;
  }

  _newPeer(accountId, deviceId) {
    const old = this.peers.get(accountId);
    if (old) {
      clearTimeout(old.watchdog);
      old.pc.close();
    }
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    // Sequence numbers go on across peer connections with the same device: the other side refuses replays.
    const same = old && old.deviceId === deviceId;
    const peer = { accountId, deviceId, pc, seqOut: same ? old.seqOut : 0, lastIn: same ? old.lastIn : 0, remote: new MediaStream() };
    this.peers.set(accountId, peer);
    if (this.local) for (const t of this.local.getTracks()) pc.addTrack(t, this.local);
    pc.ontrack = (ev) => {
      peer.remote.addTrack(ev.track);
      this._emit("remote");
    };
    pc.onicecandidate = (ev) => {
      if (ev.candidate && ev.candidate.candidate)
        this._send(peer, { kind: "candidate", candidate: ev.candidate.candidate, sdp_mid: ev.candidate.sdpMid, sdp_mline_index: ev.candidate.sdpMLineIndex });
    };
    pc.onconnectionstatechange = () => {
      const s = pc.connectionState;
      if (s === "connected") {
        this._set("connected");
        this.d.rt.request("call.media", { session_id: this.sessionId, connected: true }).catch(() => {});
      } else if ((s === "disconnected" || s === "failed") && this.state === "connected") {
        this._set("admitted");
        this.d.rt.request("call.media", { session_id: this.sessionId, connected: false }).catch(() => {});
        if (s === "failed" && this.isHost) this._restart(peer);
      }
    };
    return peer;
  }

  async _place(accountId, deviceId) {
    const peer = this._newPeer(accountId, deviceId);
    const offer = await peer.pc.createOffer();
    await peer.pc.setLocalDescription(offer);
    await this._send(peer, { kind: "offer", sdp: peer.pc.localDescription.sdp, ice_restart: false });
    // A call that has not connected after a while (a lost signal, a stuck ICE check) is placed again.
    peer.watchdog = setTimeout(() => {
      if (this.peers.get(accountId) === peer && peer.pc.connectionState !== "connected" && this.state !== "ended") {
        console.warn("call not connected: placing it again");
        this._place(accountId, deviceId);
      }
    }, PLACE_RETRY_MS);
  }

  async _restart(peer) {
    const offer = await peer.pc.createOffer({ iceRestart: true });
    await peer.pc.setLocalDescription(offer);
    await this._send(peer, { kind: "offer", sdp: peer.pc.localDescription.sdp, ice_restart: true });
  }

  async _send(peer, message) {
    const key = this._peerKey(peer.accountId, peer.deviceId);
    if (!key) return;
    peer.seqOut += 1;
    const sealed = boxed.seal(this.d.keys.identity, key, {
      callId: fromHex(this.sessionId),
      fromDevice: fromHex(this.d.me.device_id),
      toDevice: fromHex(peer.deviceId),
      seq: peer.seqOut,
      payload: utf8(JSON.stringify(message)),
    });
    try {
      await this.d.rt.request("call.signal", { session_id: this.sessionId, to_account: peer.accountId, to_device: peer.deviceId, payload: toB64(sealed) });
    } catch (e) {
      console.warn("signal refused", e.code);
    }
  }

  /** Signals are applied strictly in arrival order, on one chain, so a candidate never overtakes its offer. */
  _onSignal(e) {
    this._chain = (this._chain || Promise.resolve()).then(() => this._applySignal(e)).catch((err) => console.warn("signal", err && err.message));
  }

  async _applySignal(e) {
    let key = this._peerKey(e.from_account, e.from_device);
    if (!key) {
      await this.d.refreshContacts().catch(() => {});
      key = this._peerKey(e.from_account, e.from_device);
      if (!key) return;
    }
    let peer = this.peers.get(e.from_account);
    const same = peer && peer.deviceId === e.from_device && peer.pc.signalingState !== "closed";
    let opened;
    try {
      opened = boxed.open(this.d.keys.identity, key, fromB64(e.payload), {
        callId: fromHex(this.sessionId),
        fromDevice: fromHex(e.from_device),
        toDevice: fromHex(this.d.me.device_id),
        lastSeq: same ? peer.lastIn : 0,
      });
    } catch (err) {
      console.warn("signal rejected", err.name); // never applied: e.g. a swapped SDP does not open
      return;
    }
    const msg = JSON.parse(fromUtf8(opened.payload));
    // A new call (or one placed again before it connected) gets a fresh peer connection; an offer on a
    // connected call is a renegotiation or an ICE restart and is applied to the existing one.
    const fresh = !same || opened.seq === 1 || (!msg.ice_restart && peer.pc.connectionState !== "connected");
    if (msg.kind === "offer" && fresh) peer = this._newPeer(e.from_account, e.from_device);
    else if (!same) return;
    peer.lastIn = opened.seq;
    const pc = peer.pc;
    if (msg.kind === "offer") {
      await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      await this._send(peer, { kind: "answer", sdp: pc.localDescription.sdp });
    } else if (msg.kind === "answer") {
      await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
    } else if (msg.kind === "candidate") {
      await pc.addIceCandidate({ candidate: msg.candidate, sdpMid: msg.sdp_mid, sdpMLineIndex: msg.sdp_mline_index }).catch(() => {});
    } else if (msg.kind === "hangup") {
      clearTimeout(peer.watchdog);
      pc.close();
      this.peers.delete(e.from_account);
      this._emit("remote");
      if (!this.isHost) this._finish("Your therapist ended the call.");
      else this._set("admitted");
    }
  }

  // ---- controls --------------------------------------------------------------------------------------

  toggleMute() {
    this.muted = !this.muted;
    if (this.local) for (const t of this.local.getAudioTracks()) t.enabled = !this.muted;
    this._emit("controls");
  }

  toggleCamera() {
    this.cameraOff = !this.cameraOff;
    if (this.local) for (const t of this.local.getVideoTracks()) t.enabled = !this.cameraOff;
    this._emit("controls");
  }

  async hangUp() {
    for (const peer of this.peers.values()) await this._send(peer, { kind: "hangup" });
    await this.d.rt.request("call.leave", { session_id: this.sessionId }).catch(() => {});
    this._finish("You left the session.");
  }

  async endForEveryone() {
    for (const peer of this.peers.values()) await this._send(peer, { kind: "hangup" });
    await this.d.rt.request("call.end", { session_id: this.sessionId }).catch(() => {});
    this._finish("The session has ended.");
  }

  _finish(message) {
    if (this.state === "ended") return;
    this.endMessage = message;
    this.dispose();
    this._set("ended");
  }

  dispose() {
    clearInterval(this._statsTimer);
    for (const off of this._off) off();
    this._off = [];
    for (const p of this.peers.values()) {
      clearTimeout(p.watchdog);
      p.pc.close();
    }
    this.peers.clear();
    if (this.local) for (const t of this.local.getTracks()) t.stop();
  }

  // ---- quality ----------------------------------------------------------------------------------------

  async _sample() {
    const peer = [...this.peers.values()][0];
    if (!peer || peer.pc.connectionState === "closed") return;
    const report = await peer.pc.getStats();
    let frames = 0, lost = 0, received = 0, rtt = null, width = 0, bytes = 0;
    report.forEach((s) => {
      if (s.type === "inbound-rtp") {
        lost += s.packetsLost || 0;
        received += s.packetsReceived || 0;
        bytes += s.bytesReceived || 0;
        if (s.kind === "video") {
          frames += s.framesDecoded || 0;
          width = s.frameWidth || width;
        }
      }
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated && s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime;
    });
    const loss = received + lost ? lost / (received + lost) : 0;
    const level = frames === 0 ? "poor" : (rtt ?? 0) < 0.15 && loss < 0.02 ? "good" : (rtt ?? 0) < 0.4 && loss < 0.08 ? "fair" : "poor";
    this.stats = { frames, loss, rtt, width, bytes, level };
    this._emit("stats");
  }
}

function iceServers(turn) {
  return ((turn && turn.ice_servers) || []).map((s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
}
