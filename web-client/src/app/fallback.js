// Audio-only fallback, per pair of people in a call (docs/SESSIONS.md "Audio-only fallback"; the SDK's
// client/fallback.py follows the same rules). When video cannot flow between two people, both stop sending
// video to each other (the video sender's encodings are turned off: no video RTP at all, so the audio keeps
// the whole path) and say so in a sealed control message; the audio goes on.
//
//   {"kind": "audio_only", "on": true | false, "reason": "no_video" | "low_bandwidth" | "chosen" | null}
//
// "on" is this side's own wish for the pair; the pair is audio only while either side wishes it. Reasons:
//   no_video       connected, the peer says its camera is on, audio arrives, but no new video frame was
//                  decoded for STALL_MS (START_MS before the connection's first frame): the video
//                  cannot get through, or cannot be decoded;
//   low_bandwidth  the path's estimate of what we can send (availableOutgoingBitrate) stayed under
//                  LOW_BPS for LOW_SAMPLES samples in a row;
//   chosen         the person pressed "Audio only".
// An automatic fallback tries video again after RETRY_MS, doubling up to RETRY_MAX_MS while it keeps
// failing; "Audio only" pressed again (or at first) by the person tries at once / stays until released.

export const STALL_MS = 8000; // long enough that a busy device (a reload, a CPU burst) is not taken for a broken path
export const START_MS = 15_000; // before a connection's first frame (a slow start on a loaded device)
export const LOW_BPS = 100_000;
export const LOW_SAMPLES = 6;
export const RETRY_MS = 30_000;
export const RETRY_MAX_MS = 240_000;
const REASONS = ["no_video", "low_bandwidth", "chosen"];

/** This side's wish for a pair, as sent (tests/vectors/call_control.json pins the bytes). */
export const audioOnlyMessage = (reason) => ({ kind: "audio_only", on: reason !== null, reason });

/** The peer's wish from its message: its reason, "no_video" for one we do not know, or null. */
export const remoteReason = (msg) => (msg && msg.on ? (REASONS.includes(msg.reason) ? msg.reason : "no_video") : null);

/** Words for a person, about the tile of `name`, given why the pair is audio only. */
export function reasonText(local, remote, name) {
  const why = local || remote;
  if (why === "chosen") return local === "chosen" ? "you chose audio only" : `${name} chose audio only`;
  if (why === "low_bandwidth") return "the connection is too slow for video";
  return "video is not getting through";
}

export class AudioOnlyFallback {
  /** `call` is the CallController: it seals messages (`_send`) and re-renders (`_emit`). */
  constructor(call) {
    this.call = call;
    this.chosen = false;
  }

  /** Fresh per-peer state (a new peer connection with the same person starts with video). */
  attach(peer) {
    peer.fb = { local: null, remote: null, frames: 0, audio: 0, since: null, flowing: 0, low: 0, retryAt: 0, backoff: RETRY_MS };
    if (this.chosen) peer.fb.local = "chosen";
    peer.audioOnly = !!peer.fb.local;
  }

  /** The pair's state after each getStats sample: detect, retry, and apply to the sender. */
  observe(peer, { frames, audioBytes, outBps }, now = Date.now()) {
    const fb = peer.fb;
    const audioFlows = audioBytes > fb.audio;
    fb.audio = audioBytes;
    if (!peer.connectedSince || (peer.pc && peer.pc.connectionState !== "connected")) {
      fb.since = null;
      return;
    }
    if (fb.local && fb.local !== "chosen" && now >= fb.retryAt) {
      fb.backoff = Math.min(fb.backoff * 2, RETRY_MAX_MS); // if it fails again, wait longer
      this._setLocal(peer, null);
    }
    if (fb.local || fb.remote || !peer.media.video) {
      fb.since = null; // nothing to measure: no video is meant to arrive
      fb.low = 0;
      return;
    }
    if (fb.since === null) fb.flowing = now;
    if (fb.since === null || frames !== fb.frames) {
      // (a new peer connection counts from 0 again: any change is progress)
      fb.since = now;
      fb.frames = frames;
    } else if (audioFlows && now - fb.since >= (frames === 0 ? START_MS : STALL_MS)) {
      return this._fallBack(peer, "no_video", now);
    }
    fb.low = outBps !== null && outBps !== undefined && outBps < LOW_BPS ? fb.low + 1 : 0;
    if (fb.low >= LOW_SAMPLES) return this._fallBack(peer, "low_bandwidth", now);
    if (now - fb.flowing > RETRY_MAX_MS) fb.backoff = RETRY_MS; // video has flowed for a while: forgive
  }

  /** The person chooses audio only (true) or video again (false), with everyone. Video again also retries
   *  an automatic fallback at once. */
  choose(on) {
    this.chosen = on;
    for (const peer of this.call.peers.values()) {
      if (!peer.fb) continue;
      if (!on) peer.fb.backoff = RETRY_MS;
      this._setLocal(peer, on ? "chosen" : null);
    }
    this.call._emit("controls");
  }

  /** Whether this side holds any pair in audio only (the "Audio only" button shows it pressed). */
  get active() {
    return this.chosen || [...this.call.peers.values()].some((p) => p.fb && p.fb.local);
  }

  onMessage(peer, msg) {
    const reason = remoteReason(msg);
    if (peer.fb.remote === reason) return;
    peer.fb.remote = reason;
    peer.fb.since = null;
    this._apply(peer);
  }

  /** After (re)connecting: the sender's encodings follow the pair's state, and the peer hears our wish. */
  connected(peer) {
    this._apply(peer);
    if (peer.fb.local) this._tell(peer);
  }

  _fallBack(peer, reason, now) {
    peer.fb.retryAt = now + peer.fb.backoff;
    this._setLocal(peer, reason);
  }

  _setLocal(peer, reason) {
    if (peer.fb.local === reason) return;
    peer.fb.local = reason;
    peer.fb.since = null;
    peer.fb.low = 0;
    this._tell(peer);
    this._apply(peer);
  }

  _tell(peer) {
    this.call._send(peer, audioOnlyMessage(peer.fb.local));
  }

  async _apply(peer) {
    const off = !!(peer.fb.local || peer.fb.remote);
    peer.audioOnly = off;
    peer.audioOnlyText = off ? reasonText(peer.fb.local, peer.fb.remote, this.call.nameOf(this.call.room.members.find((m) => m.peer === peer.handle))) : "";
    this.call._emit("controls");
    this.call._emit("remote");
    const pc = peer.pc;
    if (!pc || pc.signalingState === "closed") return;
    for (const t of pc.getTransceivers()) {
      if (t.receiver.track.kind !== "video" || !t.sender) continue;
      const params = t.sender.getParameters();
      if (!params.encodings || !params.encodings.length) continue; // not negotiated yet: applied on connect
      if (params.encodings.every((e) => e.active === !off)) continue;
      for (const e of params.encodings) e.active = !off;
      await t.sender.setParameters(params).catch((e) => console.warn("audio only", e.name));
    }
  }
}
