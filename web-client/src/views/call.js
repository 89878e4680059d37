// Waiting room and call screen. The client waits calmly until admitted; the therapist admits from a list.
// The call is a grid of one tile per other person (up to 3), with their name, mute / camera-off / dropped
// badges; a live region says who dropped, who is back and who left; leaving asks first.
import { h, announce } from "../lib/dom.js";
import { CallController } from "../app/call.js";
import { advice, checkRelays, downloadSpeed, levelMeter, listDevices, testSound } from "../app/precall.js";

const TRANSPORT_TEXT = { udp: "Relay over UDP (fastest)", tcp: "Relay over TCP", tls: "Relay over TLS (port 443)" };

/** The waiting room's pre-call check: pick camera and microphone, see the microphone move, hear a sound,
 *  and check the network, with advice in plain words. */
function preCallCheck(call) {
  const camera = h("select", { id: "precall-camera" });
  const mic = h("select", { id: "precall-mic" });
  const meter = h("meter", { id: "precall-level", min: 0, max: 1, low: 0.05, value: 0 });
  const results = h("ul", { class: "precall-results", "aria-label": "Connection check" });
  const tips = h("div", { class: "precall-advice", role: "status" });
  const runCheck = h("button", { type: "button", class: "secondary" }, "Check my connection");
  let stopMeter = () => {};
  const watch = () => {
    stopMeter();
    stopMeter = levelMeter(call.local, (level) => (meter.value = level));
  };
  const fill = async () => {
    const { cameras, mics } = await listDevices().catch(() => ({ cameras: [], mics: [] }));
    const options = (list, kind) => (list.length ? list.map((d, i) => h("option", { value: d.deviceId }, d.label || `${kind} ${i + 1}`)) : [h("option", { value: "" }, `No ${kind.toLowerCase()} found`)]);
    camera.replaceChildren(...options(cameras, "Camera"));
    mic.replaceChildren(...options(mics, "Microphone"));
    return { cameras, mics };
  };
  const change = () => call.useDevices({ camera: camera.value || null, mic: mic.value || null }).then(watch).catch((e) => (tips.textContent = `That device could not be opened: ${e.message}`));
  camera.addEventListener("change", change);
  mic.addEventListener("change", change);
  runCheck.addEventListener("click", async () => {
    runCheck.disabled = true;
    tips.textContent = "Checking your connection…";
    results.replaceChildren();
    try {
      const { cameras, mics } = await fill();
      const relays = await checkRelays(await call.checkServers());
      const mbps = await downloadSpeed().catch(() => null);
      results.replaceChildren(
        ...relays.map((r) => h("li", { "data-ok": String(r.ok) }, `${TRANSPORT_TEXT[r.transport]}: ${r.ok ? `reachable (${r.ms} ms)` : "blocked"}`)),
        h("li", null, mbps ? `Download speed: about ${mbps < 10 ? mbps.toFixed(1) : Math.round(mbps)} Mbit/s` : "Download speed: unknown"),
      );
      const words = advice({ relays, mbps, camera: cameras.length > 0, mic: mics.length > 0 });
      tips.textContent = words.length ? words.join(" ") : "Everything looks good for a video session.";
    } catch (e) {
      tips.textContent = `The check could not finish: ${e.message}`;
    } finally {
      runCheck.disabled = false;
    }
  });
  const node = h(
    "section",
    { class: "precall card", "aria-labelledby": "precall-title" },
    h("h2", { id: "precall-title" }, "Check your setup"),
    h("div", { class: "field" }, h("label", { for: "precall-camera" }, "Camera"), camera),
    h("div", { class: "field" }, h("label", { for: "precall-mic" }, "Microphone"), mic),
    h("div", { class: "field" }, h("label", { for: "precall-level" }, "Microphone level"), meter),
    h("div", { class: "row" }, h("button", { type: "button", class: "secondary", onclick: () => testSound() }, "Play a test sound"), runCheck),
    results,
    tips,
  );
  return { node, start: () => fill().then(watch), stop: () => stopMeter() };
}

const QUALITY_TEXT = { good: "Good connection", fair: "Fair connection", poor: "Poor connection" };
const LEAVE_QUESTION = "Leave the session? You can join again while it is open.";

function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const mm = String(Math.floor(s / 60) % 60).padStart(2, "0"), ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Why Admit was refused (app/practice.js), with the way out: the verify screen. */
function refusedNotice(refused, name) {
  return h("div", { class: "notice error", role: "alert" }, refused.message, " ", h("a", { href: `#/verify/${refused.accountId}` }, `Verify ${name}`));
}

/** The client's side of the practice rule: the therapist must have verified them too before letting them in. */
function practiceNote(device) {
  const therapist = device.me && device.me.linked_account_id;
  return h("p", { class: "notice info" }, "This practice requires verified safety numbers before a session: your therapist lets you in only once they have verified yours. ", therapist ? h("a", { href: `#/verify/${therapist}` }, "Your safety number") : null);
}

export function callView(device, sessionId) {
  const call = new CallController(device, sessionId);
  const root = h("section", { class: "call", "aria-label": "Video session", "data-call-state": "starting" });
  const localVideo = h("video", { class: "local", autoplay: true, muted: true, playsinline: true, "aria-label": "Your camera" });
  const tiles = h("div", { class: "tiles", role: "list", "aria-label": "People in the session" });
  const status = h("p", { class: "call-state", role: "status" }, "Preparing your camera and microphone…");
  const timer = h("span", { class: "timer", "aria-label": "Elapsed time", hidden: true }, "00:00");
  const quality = h("span", { class: "quality", "data-level": "poor", "data-frames": "0", hidden: true });
  const presence = h("p", { class: "presence", role: "log", "aria-live": "polite", "aria-label": "Who joined and left" });
  const refused = h("p", { class: "notice warn call-refused", role: "status", hidden: true });
  const waitingList = h("ul", { class: "admit-list", "aria-label": "Waiting room" });
  const admitPanel = h("div", { class: "admit-panel", hidden: true }, h("h2", null, "Waiting room"), waitingList);

  const confirmLeave = () => window.confirm(LEAVE_QUESTION);
  const mute = h("button", { type: "button", "aria-pressed": "false", onclick: () => call.toggleMute() }, "Mute");
  const camera = h("button", { type: "button", "aria-pressed": "false", onclick: () => call.toggleCamera() }, "Camera off");
  // Audio only (app/fallback.js): pressed while this device keeps video off with someone, by choice or because
  // video could not flow; pressing it again tries video at once.
  const audioOnly = h("button", { type: "button", "aria-pressed": "false", onclick: () => call.chooseAudioOnly(!call.fallback.active) }, "Audio only");
  const hangup = h("button", { type: "button", class: "danger", onclick: () => (call.state === "waiting" || confirmLeave()) && call.hangUp() }, "Leave");
  const endAll = call.isHost ? h("button", { type: "button", class: "danger", onclick: () => window.confirm("End the session for everyone?") && call.endForEveryone() }, "End session") : null;
  const controls = h("div", { class: "controls", role: "toolbar", "aria-label": "Call controls" }, mute, camera, audioOnly, hangup, endAll);

  const check = preCallCheck(call);
  const practiceSlot = h("div"); // filled once the client checked the practice's rules (app/practice.js)
  const waitingRoom = h(
    "div",
    { class: "waiting" },
    h("div", { class: "breathe", "aria-hidden": "true" }),
    h("h1", null, "You are in the waiting room"),
    h("p", null, "Your therapist will let you in shortly. Take a slow breath; there is no rush."),
    practiceSlot,
    check.node,
  );
  const empty = h("p", { class: "tile-empty" });
  const stage = h("div", { class: "stage" }, h("h1", { class: "visually-hidden" }, "Video session"), tiles, empty, localVideo);
  const endText = h("p", { class: "end-text" });
  const endLength = h("p", { class: "muted end-length" });
  const ended = h(
    "div",
    { class: "page call-ended" },
    h("div", { class: "card" }, h("h1", { tabindex: "-1" }, "Session ended"), endText, endLength, h("a", { class: "button", href: "#/sessions" }, "Back to sessions")),
  );

  const tileNodes = new Map(); // peer handle -> {node, video, name, badges}
  const renderTiles = () => {
    const others = call.room.members.filter((m) => call.me && m.peer !== call.me.peer && ["admitted", "connected", "away"].includes(m.state));
    const seen = new Set();
    for (const m of others) {
      seen.add(m.peer);
      let t = tileNodes.get(m.peer);
      if (!t) {
        const video = h("video", { class: "remote", autoplay: true, playsinline: true });
        const name = h("span", { class: "tile-name" });
        const badges = h("span", { class: "badges" });
        const placeholder = h("span", { class: "placeholder", "aria-hidden": "true" });
        t = { node: h("div", { class: "tile", role: "listitem", "data-frames": "0" }, video, placeholder, name, badges), video, name, badges, placeholder };
        tileNodes.set(m.peer, t);
      }
      const peer = call.peers.get(m.peer);
      const label = call.nameOf(m);
      t.name.textContent = label;
      t.video.setAttribute("aria-label", `${label}'s video`);
      if (peer && t.video.srcObject !== peer.remote) t.video.srcObject = peer.remote;
      const media = (peer && peer.media) || { audio: true, video: true };
      const dropped = m.state === "away";
      const cameraOff = !media.video;
      t.node.dataset.state = dropped ? "away" : peer && peer.pc && peer.pc.connectionState === "connected" ? "connected" : "connecting";
      t.node.dataset.camera = cameraOff ? "off" : "on";
      t.node.dataset.audioOnly = String(!!(peer && peer.audioOnly)); // the frozen last frame is hidden
      t.node.dataset.frames = String((peer && peer.frames) || 0);
      t.placeholder.textContent = dropped ? "Connection dropped" : cameraOff ? "Camera off" : peer && peer.audioOnly ? `Audio only: ${peer.audioOnlyText}` : "";
      t.badges.replaceChildren(
        ...[!media.audio ? "Muted" : null, cameraOff ? "Camera off" : null, dropped ? "Reconnecting…" : null, peer && peer.audioOnly ? "Audio only" : null]
          .filter(Boolean)
          .map((text) => h("span", { class: "badge" }, text)),
      );
    }
    for (const [handle, t] of tileNodes) if (!seen.has(handle)) tileNodes.delete(handle);
    tiles.dataset.count = String(others.length);
    tiles.replaceChildren(...others.map((m) => tileNodes.get(m.peer).node));
    tiles.hidden = !others.length;
    empty.hidden = !!others.length;
    empty.textContent = call.isHost ? "Admit your clients when they arrive." : "Waiting for the others to connect…";
  };

  const renderRoom = () => {
    const waiting = call.waiting();
    admitPanel.hidden = !call.isHost || call.state === "ended" || (!waiting.length && call.peers.size > 0);
    waitingList.replaceChildren(
      ...(waiting.length
        ? waiting.map((m) => {
            const name = device.contactName(m.account_id);
            const refused = call.refusals && call.refusals.get(m.account_id);
            return h("li", null, h("span", { class: "client-name" }, name, " is waiting"), h("button", { type: "button", onclick: () => call.admit(m.account_id).catch((e) => announce(e.message)) }, `Admit ${name}`), refused ? refusedNotice(refused, name) : null);
          })
        : [h("li", { class: "muted" }, "Nobody is waiting.")]),
    );
    if (call.isHost && waiting.length) announce(`${device.contactName(waiting[0].account_id)} is waiting`);
    if (call.state !== "waiting") renderTiles();
  };

  const render = () => {
    root.dataset.callState = call.state;
    if (call.state === "ended") {
      endText.textContent = call.endMessage || "The session has ended.";
      endLength.textContent = call.duration ? `You were connected for ${clock(call.duration)}.` : "";
      root.replaceChildren(ended);
      ended.querySelector("h1").focus();
      return;
    }
    if (call.state === "error") {
      const verify = call.refused ? h("a", { class: "button", href: `#/verify/${call.refused.accountId}` }, `Verify ${device.contactName(call.refused.accountId)}`) : null;
      root.replaceChildren(h("div", { class: "page call-ended" }, h("div", { class: "notice error", role: "alert" }, call.error), verify, h("a", { class: "button secondary", href: "#/sessions" }, "Back to sessions")));
      return;
    }
    const text = {
      starting: "Preparing your camera and microphone…",
      waiting: "Waiting for your therapist to let you in.",
      admitted: call.isHost ? (call.peers.size ? "Connecting…" : "Admit your client when they arrive.") : "Connecting…",
      connected: "Connected",
    }[call.state];
    status.textContent = call.audioOnlyLocal && call.state === "connected" ? "Connected (audio only: no camera found)" : text;
    quality.hidden = call.state !== "connected";
    hangup.textContent = call.state === "waiting" ? "Leave waiting room" : "Leave";
    practiceSlot.replaceChildren(...(device.state && device.state.practiceRequiresVerified ? [practiceNote(device)] : []));
    const main = call.state === "waiting" ? waitingRoom : stage;
    if (call.state === "waiting") waitingRoom.appendChild(localVideo);
    else stage.appendChild(localVideo);
    main.append(h("div", { class: "call-status" }, status, timer, quality), refused, admitPanel);
    root.replaceChildren(main, presence, controls);
  };

  const tick = setInterval(() => {
    const started = call.connectedAt;
    timer.hidden = !started || call.state === "ended";
    if (started) timer.textContent = clock(Date.now() - started);
  }, 1000);

  call.addEventListener("change", (e) => {
    const what = e.detail.what;
    if (what === "state") {
      if (call.state !== "waiting") check.stop();
      render();
      renderRoom();
      if (call.state === "connected") announce("Connected");
      if (call.state === "admitted" && !call.isHost) announce("You are in the session");
    } else if (what === "room" || what === "remote") renderRoom();
    else if (what === "refused") {
      const n = call.refusedSignals;
      refused.hidden = false;
      refused.textContent = `${n} call message${n === 1 ? " was" : "s were"} refused: not sealed by ${call.refusedFrom}'s verified device for this join. Nothing of ${n === 1 ? "it" : "them"} was used.`;
    }
    else if (what === "presence") {
      const last = call.presence[call.presence.length - 1];
      presence.textContent = last.text;
      renderRoom();
    } else if (what === "local") {
      localVideo.srcObject = call.local;
      if (call.state === "waiting" || call.state === "starting") check.start();
    } else if (what === "controls") {
      // Toggle buttons keep their name and report their state with aria-pressed ("Mute, pressed" = muted).
      mute.setAttribute("aria-pressed", String(call.muted));
      camera.setAttribute("aria-pressed", String(call.cameraOff));
      audioOnly.setAttribute("aria-pressed", String(call.fallback.active));
    } else if (what === "stats") {
      renderTiles();
      if (call.stats) {
        quality.dataset.level = call.stats.level;
        quality.dataset.frames = String(call.stats.frames);
        quality.textContent = `${QUALITY_TEXT[call.stats.level]}${call.stats.rtt !== null ? ` · ${Math.round(call.stats.rtt * 1000)} ms` : ""}`;
      }
    }
  });

  // Leaving by navigation asks first: a link inside the app, or closing / reloading the tab.
  const inCall = () => ["admitted", "connected"].includes(call.state);
  const onClick = (ev) => {
    const a = ev.target.closest && ev.target.closest("a[href^='#/']"); // another screen; not the skip link

    if (a && inCall() && !root.contains(a) && !confirmLeave()) {
      ev.preventDefault();
      ev.stopPropagation();
    }
  };
  const onBeforeUnload = (ev) => {
    if (!inCall()) return;
    ev.preventDefault();
    ev.returnValue = ""; // the browser asks; after a reload the session continues without a new admission
  };
  document.addEventListener("click", onClick, true);
  window.addEventListener("beforeunload", onBeforeUnload);

  render();
  call.start();
  return {
    node: root,
    cleanup: () => {
      clearInterval(tick);
      check.stop();
      document.removeEventListener("click", onClick, true);
      window.removeEventListener("beforeunload", onBeforeUnload);
      // The app re-rendering this same screen (e.g. after an unlock) is not leaving: the new view joins again.
      if (call.state === "ended" || location.hash === `#/call/${sessionId}`) call.dispose();
      else call.hangUp();
    },
  };
}
