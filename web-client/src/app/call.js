// One video session on this device: waiting room, admission, a WebRTC full mesh (up to 4 people) with signals
// sealed per join (docs/PROTOCOL.md §8, same as the SDK's client/calls.py and client/call_channel.py),
// presence (who dropped, who is back, who left), peer mute / camera off, and connection quality from getStats.
// Offers: the therapist offers to each client; between two clients, the smaller handle offers.
// Signal payloads are the SDK's JSON: {"kind": "offer"|"answer"|"candidate"|"hangup"|"roster"|"media"|"audio_only", ...}.
import { AudioOnlyFallback } from "./fallback.js";
import { fromB64, fromHex, fromUtf8, toB64, utf8 } from "../lib/bytes.js";
import * as boxed from "../crypto/signaling.js";
import { trustedDevices } from "./trust.js";
import { checkSessionWith, refusal } from "./practice.js";

const STATS_PERIOD_MS = 1000;
const PLACE_RETRY_MS = 8000;
const RESTART_AFTER_MS = 3000; // a "disconnected" connection that has not recovered by then gets an ICE restart
const ADMITTED = ["admitted", "connected"];
const TURN_RENEW_BEFORE_MS = 5 * 60 * 1000;

/** The devices of `accountId` this browser seals call signaling to and accepts it from: {device_id -> identity key}.
 *  The one place that decides it. */
export function callDevicesOf(device, accountId) {
  // Only certified devices of an accepted account key (app/trust.js): none while a key change waits, so a
  // device the server added, or a contact whose key changed, is never sealed to nor heard from. None either
  // while the practice's rules refuse a session with them (app/practice.js).
  const out = new Map();
  if (accountId !== (device.me && device.me.account_id) && refusal(device, accountId)) return out;
  for (const d of trustedDevices(device, accountId)) out.set(d.device_id, fromB64(d.identity_key));
  return out;
}

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
    this.audioOnlyLocal = false; // no camera could be opened: we send audio only
    this.peers = new Map(); // peer handle -> peer (one per other admitted member, with its own RTCPeerConnection)
    this.known = new Map(); // peer handle -> {superseded: Set of join ids (hex), name}
    this.roster = new Map(); // co-participants introduced by the therapist: handle -> {name, deviceId, key}
    this.presence = []; // [{text, at}] who dropped, is back, left
    this.muted = false;
    this.cameraOff = false;
    this.connectedAt = null;
    this.stats = null;
    this._off = [];
    this._statsTimer = null;
    this._join = null;
    this.fallback = new AudioOnlyFallback(this); // audio only when video cannot flow (app/fallback.js)
  }

  get isHost() {
    return this.d.role === "therapist";
  }

  get me() {
    return this.room.members.find((m) => m.account_id === this.d.me.account_id) || null;
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
    try {
      await this._checkTherapist();
    } catch (e) {
      this.refused = e; // CallRefused: the view says why and links to the verify screen
      this.error = e.message;
      this._set("error");
      return;
    }
    this._off.push(
      rt.on("call.waiting", (e) => e && e.session_id === this.sessionId && this._emit("room")),
      rt.on("call.state", (e) => e && e.session_id === this.sessionId && this._onRoom(e)),
      rt.on("call.admitted", (e) => {
        if (!e || e.session_id !== this.sessionId) return;
        this._setTurn(e.turn);
        this._set("admitted");
        this._onRoom(e.room);
      }),
      rt.on("call.signal", (e) => e && e.session_id === this.sessionId && this._onSignal(e)),
      rt.on("call.ended", (e) => e && e.session_id === this.sessionId && this._finish("The session has ended. Thank you for today.")),
      rt.on("call.removed", (e) => e && e.session_id === this.sessionId && this._finish("Your therapist ended your part in this session.")),
    );
    // A new socket (network switch, server restart) rejoins with a fresh join: the others renegotiate.
    const reconnected = () => {
      if (["admitted", "connected", "waiting"].includes(this.state)) this._joinRoom().catch(() => {});
    };
    rt.addEventListener("connected", reconnected);
    this._off.push(() => rt.removeEventListener("connected", reconnected));
    await this._openMedia();
    // The app may render this screen twice in a row (e.g. after an unlock): a disposed one never joins.
    if (this._disposed) return this._stopLocal();
    this._emit("local");
    if (!rt.connected) await waitConnected(rt, 10000);
    if (this._disposed) return this._stopLocal();
    try {
      await this._joinRoom();
    } catch (e) {
      this.error = e.message;
      this._set("error");
      return;
    }
    this._statsTimer = setInterval(() => this._sample(), STATS_PERIOD_MS);
  }

  async _openMedia() {
    try {
      this.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    } catch {
      try {
        this.local = await navigator.mediaDevices.getUserMedia({ audio: true }); // audio-only fallback
        this.audioOnlyLocal = true;
      } catch {
        this.local = null; // a call without camera/microphone still receives
      }
    }
  }

  async _joinRoom() {
    this._join = boxed.createJoin(this.d.keys.identity, fromHex(this.sessionId), fromHex(this.d.me.device_id));
    for (const peer of [...this.peers.values()]) this._dropPeer(peer, false); // their joins stay valid
    const joined = await this.d.rt.request("call.join", { session_id: this.sessionId, join: toB64(this._join.statement) });
    this.session = joined.session;
    this._setTurn(joined.turn);
    this._set(joined.state === "waiting" ? "waiting" : "admitted");
    this._onRoom(joined.room);
  }

  /** TURN credentials are valid for the session's window only: renewed a few minutes before they expire. */
  _setTurn(turn) {
    this.iceServers = iceServers(turn);
    clearTimeout(this._turnTimer);
    if (!turn || !turn.expires_at) return;
    const wait = Math.max(turn.expires_at - Date.now() - TURN_RENEW_BEFORE_MS, 30000);
    this._turnTimer = setTimeout(async () => {
      try {
        const fresh = await this.d.api.post(`/sessions/${this.sessionId}/turn`);
        this._setTurn(fresh);
        for (const p of this.peers.values()) if (p.pc && p.pc.signalingState !== "closed") p.pc.setConfiguration({ iceServers: this.iceServers });
      } catch (e) {
        console.warn("TURN renewal", e.code);
      }
    }, wait);
  }

  /** Switch camera and/or microphone (pre-call check): the peers get the new tracks without renegotiating. */
  async useDevices({ camera = null, mic = null }) {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: mic ? { deviceId: { exact: mic } } : true,
      video: this.audioOnlyLocal && !camera ? false : { width: 640, height: 480, ...(camera ? { deviceId: { exact: camera } } : {}) },
    });
    const old = this.local;
    this.local = stream;
    for (const peer of this.peers.values())
      for (const sender of (peer.pc && peer.pc.getSenders()) || [])
        if (sender.track) await sender.replaceTrack(stream.getTracks().find((t) => t.kind === sender.track.kind) || null);
    if (old) for (const t of old.getTracks()) t.stop();
    for (const t of stream.getAudioTracks()) t.enabled = !this.muted;
    for (const t of stream.getVideoTracks()) t.enabled = !this.cameraOff;
    this._emit("local");
  }

  /** ICE servers for the pre-call check: ours once admitted, else short-lived ones for the waiting room. */
  async checkServers() {
    if (this.iceServers.length) return this.iceServers;
    try {
      return iceServers(await this.d.api.post(`/sessions/${this.sessionId}/turn`));
    } catch (e) {
      if (e.code === "not_found") return [];
      throw e;
    }
  }

  waiting() {
    return this.room.members.filter((m) => m.state === "waiting" && m.account_id !== this.d.me.account_id);
  }

  /** A client checks its therapist before knocking (app/practice.js); the therapist checks at Admit. */
  async _checkTherapist() {
    if (this.isHost) return;
    const session = await this.d.api.get(`/sessions/${this.sessionId}`).catch(() => null);
    if (session && session.therapist_id !== this.d.me.account_id) await checkSessionWith(this.d, session.therapist_id);
  }

  async admit(accountId) {
    this.refusals ||= new Map();
    try {
      await checkSessionWith(this.d, accountId);
    } catch (e) {
      this.refusals.set(accountId, e); // shown in the waiting room with a way to verify
      this._emit("room");
      throw e;
    }
    this.refusals.delete(accountId);
    const room = await this.d.rt.request("call.admit", { session_id: this.sessionId, account_id: accountId });
    this._onRoom(room);
  }

  /** The name to show for a member: the therapist's own names for its clients; a client's name for its
   *  therapist; for a co-participant, the name the therapist gave in its sealed introduction. */
  nameOf(m) {
    if (!m) return "A participant";
    if (m.account_id) return this.d.contactName(m.account_id);
    const r = this.roster.get(m.peer);
    return (r && r.name) || "A participant";
  }

  // ---- room and presence ---------------------------------------------------------------------------------

  _onRoom(room) {
    if (!room || !room.members) return;
    const before = new Map(this.room.members.map((m) => [m.peer, m.state]));
    this.room = room;
    const mine = this.me;
    if (mine && this.state === "waiting" && ADMITTED.includes(mine.state)) this._set("admitted");
    for (const m of room.members) {
      if (mine && m.peer === mine.peer) continue;
      const was = before.get(m.peer);
      if (!was) continue;
      const name = this.nameOf(m);
      if (ADMITTED.includes(was) && m.state === "away") this._say(`${name}'s connection dropped — waiting for them to return`);
      else if (was === "away" && ADMITTED.includes(m.state)) this._say(`${name} is back`);
      else if (was !== "left" && m.state === "left" && was !== "waiting") this._say(`${name} left the session`);
      else if (was === "waiting" && m.state === "left") this._say(`${name} left the waiting room`);
    }
    this._emit("room");
    // On the same chain as signals: peers are created once, in order, whatever arrives first.
    this._chain = (this._chain || Promise.resolve()).then(() => this._sync()).catch((e) => console.warn("call sync", e && e.message));
  }

  _say(text) {
    this.presence.push({ text, at: Date.now() });
    this._emit("presence");
  }

  /** One peer per other admitted member with a verified join; a new join of a member replaces its peer. */
  async _sync() {
    if (!ADMITTED.includes(this.state) && this.state !== "connected") return;
    const mine = this.me;
    if (!mine) return;
    const wanted = new Set();
    for (const m of this.room.members) {
      if (m.peer === mine.peer || !ADMITTED.includes(m.state) || !m.join) continue;
      const id = await this._identity(m);
      if (!id) continue;
      wanted.add(m.peer);
      const verified = this._verifyJoin(m.peer, id, m.join);
      if (!verified) continue;
      const peer = this.peers.get(m.peer);
      if (peer && peer.joinId === verified.joinIdHex) continue;
      const fresh = this._newPeer(m, id, verified);
      if (this._offersTo(m)) await this._place(fresh);
    }
    for (const peer of [...this.peers.values()]) if (!wanted.has(peer.handle)) this._dropPeer(peer);
    if (this.isHost) await this._introduce();
    this._emit("remote");
  }

  _offersTo(m) {
    if (this.isHost) return true;
    const mine = this.me;
    return !!mine && m.account_id !== (this.session && this.session.therapist_id) && mine.peer < m.peer;
  }

  async _identity(m) {
    if (m.account_id && m.device_id) {
      let key = callDevicesOf(this.d, m.account_id).get(m.device_id);
      if (!key) {
        await this.d.refreshContacts().catch(() => {});
        key = callDevicesOf(this.d, m.account_id).get(m.device_id);
      }
      return key ? { deviceId: m.device_id, key } : null;
    }
    const r = this.roster.get(m.peer);
    return r ? { deviceId: r.deviceId, key: r.key } : null;
  }

  /** A member's join statement checked under the key we trust for it; a replaced join is never taken back. */
  _verifyJoin(handle, id, statementB64) {
    let v;
    try {
      v = boxed.verifyJoin(id.key, fromHex(this.sessionId), fromHex(id.deviceId), fromB64(statementB64));
    } catch (err) {
      console.warn("join refused", err.name); // e.g. a relay's own join for this device
      this._refused(handle);
      return null;
    }
    const joinIdHex = toHexStr(v.joinId);
    const k = this.known.get(handle);
    if (k && k.superseded.has(joinIdHex)) {
      console.warn("join refused", "ReplacedJoin");
      return null;
    }
    return { ...v, joinIdHex };
  }

  _newPeer(m, id, verified) {
    const old = this.peers.get(m.peer);
    const k = this.known.get(m.peer) || { superseded: new Set() };
    if (old) {
      k.superseded.add(old.joinId);
      this._closePc(old);
    }
    this.known.set(m.peer, k);
    const peer = {
      handle: m.peer,
      deviceId: id.deviceId,
      joinId: verified.joinIdHex,
      joinIdBytes: verified.joinId,
      ephemeral: verified.ephemeral,
      seqOut: 0,
      lastIn: 0,
      pc: null,
      remote: new MediaStream(),
      media: { audio: true, video: true },
      connectedSince: null,
      frames: 0,
    };
    this.fallback.attach(peer);
    this.peers.set(m.peer, peer);
    this._newPc(peer);
    return peer;
  }

  _newPc(peer) {
    if (peer.pc) this._closePc(peer);
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    peer.pc = pc;
    peer.remote = new MediaStream();
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
      if (peer.pc !== pc) return;
      const s = pc.connectionState;
      if (s === "connected") {
        clearTimeout(peer.watchdog);
        clearTimeout(peer.restartTimer);
        peer.connectedSince = peer.connectedSince || Date.now();
        if (!this.connectedAt) this.connectedAt = Date.now();
        this._set("connected");
        this.d.rt.request("call.media", { session_id: this.sessionId, connected: true }).catch(() => {});
        this._sendMedia(peer);
        this.fallback.connected(peer);
      } else if (s === "disconnected" || s === "failed") {
        // The offerer restarts ICE (a network switch); the room tells everyone if the device itself is gone.
        const member = this.room.members.find((m) => m.peer === peer.handle);
        if (member && this._offersTo(member)) {
          clearTimeout(peer.restartTimer);
          peer.restartTimer = setTimeout(() => {
            if (peer.pc === pc && pc.connectionState !== "connected") this._restart(peer);
          }, s === "failed" ? 0 : RESTART_AFTER_MS);
        }
      }
      this._updateConnected();
      this._emit("remote");
    };
  }

  _updateConnected() {
    if (this.state !== "connected" && this.state !== "admitted") return;
    const any = [...this.peers.values()].some((p) => p.pc && p.pc.connectionState === "connected");
    if (!any && this.state === "connected") {
      this._set("admitted");
      this.d.rt.request("call.media", { session_id: this.sessionId, connected: false }).catch(() => {});
    }
  }

  _closePc(peer) {
    clearTimeout(peer.watchdog);
    clearTimeout(peer.restartTimer);
    if (peer.pc) peer.pc.close();
  }

  _dropPeer(peer, supersede = true) {
    const k = this.known.get(peer.handle) || { superseded: new Set() };
    if (supersede) k.superseded.add(peer.joinId); // the member left the room: it comes back with a new join
    this.known.set(peer.handle, k);
    this._closePc(peer);
    this.peers.delete(peer.handle);
    this._updateConnected();
    this._emit("remote");
  }

  async _place(peer) {
    if (peer.pc.signalingState !== "stable" || peer.pc.remoteDescription) this._newPc(peer);
    const pc = peer.pc;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await this._send(peer, { kind: "offer", sdp: pc.localDescription.sdp, ice_restart: false });
    // A call that has not connected after a while (a lost signal, a stuck ICE check) is placed again.
    clearTimeout(peer.watchdog);
    peer.watchdog = setTimeout(() => {
      if (this.peers.get(peer.handle) === peer && pc.connectionState !== "connected" && this.state !== "ended") {
        console.warn("call not connected: placing it again");
        this._place(peer);
      }
    }, PLACE_RETRY_MS);
  }

  async _restart(peer) {
    const offer = await peer.pc.createOffer({ iceRestart: true });
    await peer.pc.setLocalDescription(offer);
    await this._send(peer, { kind: "offer", sdp: peer.pc.localDescription.sdp, ice_restart: true });
  }

  async _introduce() {
    // The therapist tells each admitted client who the others are (name, device, identity key), sealed.
    const clients = this.room.members.filter((m) => m.account_id && m.account_id !== this.d.me.account_id && ADMITTED.includes(m.state) && m.join);
    const entries = [];
    for (const m of clients) {
      const key = callDevicesOf(this.d, m.account_id).get(m.device_id);
      if (key) entries.push({ peer: m.peer, name: this.d.contactName(m.account_id), device_id: m.device_id, identity_key: toB64(key) });
    }
    const signature = JSON.stringify(entries.map((e) => [e.peer, e.device_id, this.peers.get(e.peer) && this.peers.get(e.peer).joinId]));
    if (signature === this._introduced) return;
    this._introduced = signature;
    for (const m of clients) {
      const peer = this.peers.get(m.peer);
      if (peer) await this._send(peer, { kind: "roster", peers: entries.filter((e) => e.peer !== m.peer) });
    }
  }

  async _send(peer, message) {
    peer.seqOut += 1;
    const sealed = boxed.seal(
      this._join,
      { ephemeral: peer.ephemeral },
      { sessionId: fromHex(this.sessionId), fromDevice: fromHex(this.d.me.device_id), toDevice: fromHex(peer.deviceId), fromJoin: this._join.joinId, toJoin: peer.joinIdBytes },
      { seq: peer.seqOut, payload: utf8(JSON.stringify(message)) },
    );
    try {
      await this.d.rt.request("call.signal", { session_id: this.sessionId, to_peer: peer.handle, payload: toB64(sealed) });
    } catch (e) {
      console.warn("signal refused", e.code);
    }
  }

  /** Signals are applied strictly in arrival order, on one chain, so a candidate never overtakes its offer. */
  _onSignal(e) {
    this._chain = (this._chain || Promise.resolve()).then(() => this._applySignal(e)).catch((err) => console.warn("signal", err && err.message));
  }

  async _applySignal(e) {
    // Before this page's own join exists nothing can be addressed to it: a signal now is for an earlier join
    // (a reload), sealed to keys this page never had. Dropped, not counted as a refusal.
    if (!this._join || !this.room) return void console.debug("signal before this page joined: dropped");
    const m = this.room.members.find((x) => x.peer === e.from_peer);
    if (!m) return;
    const id = await this._identity(m);
    if (!id) return;
    const verified = this._verifyJoin(e.from_peer, id, e.join);
    if (!verified) return;
    let peer = this.peers.get(e.from_peer);
    if (!peer || peer.joinId !== verified.joinIdHex) peer = this._newPeer(m, id, verified); // the room lags behind
    let opened;
    try {
      opened = boxed.open(
        this._join,
        { ephemeral: peer.ephemeral },
        fromB64(e.payload),
        { sessionId: fromHex(this.sessionId), fromDevice: fromHex(peer.deviceId), toDevice: fromHex(this.d.me.device_id), fromJoin: peer.joinIdBytes, toJoin: this._join.joinId },
        peer.lastIn,
      );
    } catch (err) {
      console.warn("signal rejected", err.name); // never applied: a swapped SDP, an old join, a replay
      this._refused(e.from_peer);
      return;
    }
    peer.lastIn = opened.seq;
    const msg = JSON.parse(fromUtf8(opened.payload));
    if (msg.kind === "roster") return this._onRoster(m, msg);
    if (msg.kind === "media") {
      peer.media = { audio: !!msg.audio, video: !!msg.video };
      return this._emit("remote");
    }
    if (msg.kind === "audio_only") return this.fallback.onMessage(peer, msg);
    if (msg.kind === "offer") {
      // A first offer, or one placed again before it connected, gets a fresh peer connection; an offer on a
      // connected call is a renegotiation or an ICE restart and is applied to the existing one.
      const pc0 = peer.pc;
      if (!pc0 || pc0.signalingState === "closed" || opened.seq === 1 || (!msg.ice_restart && pc0.connectionState !== "connected" && pc0.remoteDescription)) this._newPc(peer);
      const pc = peer.pc;
      await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      await this._send(peer, { kind: "answer", sdp: pc.localDescription.sdp });
    } else if (msg.kind === "answer") {
      if (peer.pc.signalingState === "have-local-offer") await peer.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
    } else if (msg.kind === "candidate") {
      await peer.pc.addIceCandidate({ candidate: msg.candidate, sdpMid: msg.sdp_mid, sdpMLineIndex: msg.sdp_mline_index }).catch(() => {});
    } else if (msg.kind === "hangup") {
      this._closePc(peer);
      peer.remote = new MediaStream();
      this._updateConnected();
      this._emit("remote");
    }
  }

  /** Counted and shown on the call screen (never applied): a join or signal that did not verify. */
  _refused(handle) {
    this.refusedSignals = (this.refusedSignals || 0) + 1;
    this.refusedFrom = this.nameOf(this.room.members.find((x) => x.peer === handle));
    this._emit("refused");
  }

  _onRoster(from, msg) {
    if (!this.session || from.account_id !== this.session.therapist_id) return; // only the therapist introduces
    for (const p of msg.peers || []) {
      try {
        this.roster.set(p.peer, { name: String(p.name || ""), deviceId: p.device_id, key: fromB64(p.identity_key) });
      } catch {
        console.warn("roster entry refused");
      }
    }
    this._emit("room");
    return this._sync();
  }

  // ---- controls --------------------------------------------------------------------------------------

  toggleMute() {
    this.muted = !this.muted;
    if (this.local) for (const t of this.local.getAudioTracks()) t.enabled = !this.muted;
    this._broadcastMedia();
    this._emit("controls");
  }

  toggleCamera() {
    this.cameraOff = !this.cameraOff;
    if (this.local) for (const t of this.local.getVideoTracks()) t.enabled = !this.cameraOff;
    this._broadcastMedia();
    this._emit("controls");
  }

  /** The person's choice: audio only with everyone (true), or video again (false; also retries at once a
   *  fallback the call made by itself). */
  chooseAudioOnly(on) {
    this.fallback.choose(on);
  }

  _broadcastMedia() {
    for (const peer of this.peers.values()) this._sendMedia(peer);
  }

  _sendMedia(peer) {
    const video = !this.cameraOff && !this.audioOnlyLocal && !!this.local && this.local.getVideoTracks().length > 0;
    this._send(peer, { kind: "media", audio: !this.muted && !!this.local, video });
  }

  async hangUp() {
    for (const peer of this.peers.values()) await this._send(peer, { kind: "hangup" });
    await this.d.rt.request("call.leave", { session_id: this.sessionId }).catch(() => {});
    this._finish("You left the session. Take a moment for yourself before moving on.");
  }

  async endForEveryone() {
    for (const peer of this.peers.values()) await this._send(peer, { kind: "hangup" });
    await this.d.rt.request("call.end", { session_id: this.sessionId }).catch(() => {});
    this._finish("The session has ended for everyone.");
  }

  _finish(message) {
    if (this.state === "ended") return;
    this.endMessage = message;
    this.duration = this.connectedAt ? Date.now() - this.connectedAt : null;
    this.dispose();
    this._set("ended");
  }

  _stopLocal() {
    if (this.local) for (const t of this.local.getTracks()) t.stop();
  }

  dispose() {
    this._disposed = true;
    clearInterval(this._statsTimer);
    clearTimeout(this._turnTimer);
    for (const off of this._off) off();
    this._off = [];
    for (const p of this.peers.values()) this._closePc(p);
    this.peers.clear();
    if (this.local) for (const t of this.local.getTracks()) t.stop();
  }

  // ---- quality ----------------------------------------------------------------------------------------

  async _sample() {
    let worst = null;
    for (const peer of this.peers.values()) {
      if (!peer.pc || peer.pc.connectionState === "closed") continue;
      const report = await peer.pc.getStats();
      let frames = 0, lost = 0, received = 0, rtt = null, audioBytes = 0, outBps = null;
      report.forEach((s) => {
        if (s.type === "inbound-rtp") {
          lost += s.packetsLost || 0;
          received += s.packetsReceived || 0;
          if (s.kind === "video") frames += s.framesDecoded || 0;
          if (s.kind === "audio") audioBytes += s.bytesReceived || 0;
        }
        if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated) {
          if (s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime;
          if (s.availableOutgoingBitrate !== undefined) outBps = s.availableOutgoingBitrate;
        }
      });
      peer.frames = frames;
      this.fallback.observe(peer, { frames, audioBytes, outBps }); // video cannot flow: audio only
      const loss = received + lost ? lost / (received + lost) : 0;
      const level = frames === 0 && !peer.audioOnly && peer.media.video ? "poor" : (rtt ?? 0) < 0.15 && loss < 0.02 ? "good" : (rtt ?? 0) < 0.4 && loss < 0.08 ? "fair" : "poor";
      peer.stats = { frames, loss, rtt, level };
      if (!worst || rank(level) < rank(worst.level) || (level === worst.level && frames < worst.frames)) worst = peer.stats;
    }
    this.stats = worst;
    this._emit("stats");
  }
}

const rank = (level) => ({ poor: 0, fair: 1, good: 2 })[level];

function toHexStr(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function waitConnected(rt, ms) {
  return new Promise((resolve) => {
    const done = () => {
      rt.removeEventListener("connected", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, ms);
    rt.addEventListener("connected", done);
  });
}

function iceServers(turn) {
  return ((turn && turn.ice_servers) || []).map((s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
}
