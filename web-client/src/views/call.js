// Waiting room and call screen. The client waits calmly until admitted; the therapist admits from a list.
import { h, announce } from "../lib/dom.js";
import { CallController } from "../app/call.js";

const QUALITY_TEXT = { good: "Good connection", fair: "Fair connection", poor: "Poor connection" };

export function callView(device, sessionId) {
  const call = new CallController(device, sessionId);
  const root = h("section", { class: "call", "aria-label": "Video session", "data-call-state": "starting" });
  const localVideo = h("video", { class: "local", autoplay: true, muted: true, playsinline: true, "aria-label": "Your camera" });
  const remoteVideo = h("video", { class: "remote", autoplay: true, playsinline: true, "aria-label": "The other person's video" });
  const status = h("p", { class: "call-state", role: "status" }, "Preparing your camera and microphone…");
  const quality = h("span", { class: "quality", "data-level": "poor", "data-frames": "0", hidden: true });
  const waitingList = h("ul", { class: "admit-list", "aria-label": "Waiting room" });
  const admitPanel = h("div", { class: "admit-panel", hidden: true }, h("h2", null, "Waiting room"), waitingList);

  const mute = h("button", { type: "button", "aria-pressed": "false", onclick: () => call.toggleMute() }, "Mute");
  const camera = h("button", { type: "button", "aria-pressed": "false", onclick: () => call.toggleCamera() }, "Camera off");
  const hangup = h("button", { type: "button", class: "danger", onclick: () => call.hangUp() }, call.isHost ? "Leave" : "Hang up");
  const endAll = call.isHost ? h("button", { type: "button", class: "danger", onclick: () => call.endForEveryone() }, "End session") : null;
  const controls = h("div", { class: "controls", role: "toolbar", "aria-label": "Call controls" }, mute, camera, hangup, endAll);

  const waitingRoom = h(
    "div",
    { class: "waiting" },
    h("div", { class: "breathe", "aria-hidden": "true" }),
    h("h1", null, "You are in the waiting room"),
    h("p", null, "Your therapist will let you in shortly. Take a slow breath; there is no rush."),
  );
  const stage = h("div", { class: "stage" }, h("h1", { class: "visually-hidden" }, "Video session"), remoteVideo, localVideo);
  const ended = h("div", { class: "page" }, h("div", { class: "card" }, h("h1", { tabindex: "-1" }, "Session ended"), h("p", { class: "end-text" }), h("a", { class: "button", href: "#/sessions" }, "Back to sessions")));

  const renderRoom = () => {
    const waiting = call.waiting();
    admitPanel.hidden = !call.isHost || call.state === "ended" || (!waiting.length && call.peers.size > 0);
    waitingList.replaceChildren(
      ...(waiting.length
        ? waiting.map((m) => {
            const name = device.contactName(m.account_id);
            return h("li", null, h("span", { class: "client-name" }, name, " is waiting"), h("button", { type: "button", onclick: () => call.admit(m.account_id).catch((e) => announce(e.message)) }, `Admit ${name}`));
          })
        : [h("li", { class: "muted" }, "Nobody is waiting.")]),
    );
    if (call.isHost && waiting.length) announce(`${device.contactName(waiting[0].account_id)} is waiting`);
  };

  const render = () => {
    root.dataset.callState = call.state;
    if (call.state === "ended") {
      ended.querySelector(".end-text").textContent = call.endMessage || "The session has ended.";
      root.replaceChildren(ended);
      ended.querySelector("h1").focus();
      return;
    }
    if (call.state === "error") {
      root.replaceChildren(h("div", { class: "page" }, h("div", { class: "notice error", role: "alert" }, call.error), h("a", { class: "button secondary", href: "#/sessions" }, "Back to sessions")));
      return;
    }
    const text = {
      starting: "Preparing your camera and microphone…",
      waiting: "Waiting for your therapist to let you in.",
      admitted: call.isHost ? (call.peers.size ? "Connecting…" : "Admit your client when they arrive.") : "Connecting to your therapist…",
      connected: "Connected",
    }[call.state];
    status.textContent = text;
    quality.hidden = call.state !== "connected";
    hangup.textContent = call.state === "waiting" ? "Leave waiting room" : call.isHost ? "Leave" : "Hang up";
    const main = call.state === "waiting" ? waitingRoom : stage;
    if (call.state === "waiting") waitingRoom.appendChild(localVideo);
    else stage.appendChild(localVideo);
    main.append(h("div", { class: "call-status" }, status, quality), admitPanel);
    root.replaceChildren(main, controls);
  };

  call.addEventListener("change", (e) => {
    const what = e.detail.what;
    if (what === "state") {
      render();
      renderRoom();
      if (call.state === "connected") announce("Connected");
      if (call.state === "admitted" && !call.isHost) announce("Your therapist let you in");
    } else if (what === "room") renderRoom();
    else if (what === "local") localVideo.srcObject = call.local;
    else if (what === "remote") {
      renderRoom();
      const peer = [...call.peers.values()][0];
      remoteVideo.srcObject = peer ? peer.remote : null;
    } else if (what === "controls") {
      // Toggle buttons keep their name and report their state with aria-pressed ("Mute, pressed" = muted).
      mute.setAttribute("aria-pressed", String(call.muted));
      camera.setAttribute("aria-pressed", String(call.cameraOff));
    } else if (what === "stats" && call.stats) {
      quality.dataset.level = call.stats.level;
      quality.dataset.frames = String(call.stats.frames);
      quality.textContent = `${QUALITY_TEXT[call.stats.level]}${call.stats.rtt !== null ? ` · ${Math.round(call.stats.rtt * 1000)} ms` : ""}`;
    }
  });
  render();
  call.start();
  // Navigating away leaves the session (the peer sees the hang-up); the room keeps the admission.
  return { node: root, cleanup: () => (call.state === "ended" ? call.dispose() : call.hangUp()) };
}
