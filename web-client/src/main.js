// Entry point: hash router and role-aware screens. No inline script or style anywhere (strict CSP).
import "./styles.css";
import { h, replace } from "./lib/dom.js";
import { Device } from "./app/device.js";
import { shell } from "./views/shell.js";
import { welcomeView, joinView, existingDeviceView, unlockView, revokedView, frame } from "./views/onboarding.js";
import { newDeviceLinkView } from "./views/link.js";
import { acceptTermsView, waitingTermsView, publishTermsView } from "./views/terms.js";
import { inviteView } from "./views/invite.js";
import { clientsView } from "./views/clients.js";
import { chatView } from "./views/chat.js";
import { verifyView } from "./views/verify.js";
import { sessionsView } from "./views/sessions.js";
import { callView } from "./views/call.js";
import { devicesView } from "./views/devices.js";

const root = document.getElementById("app");
const device = new Device();
let cleanup = [];
let renderSeq = 0;

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, hash };
}

const go = (hash) => {
  if (location.hash === hash) render();
  else location.hash = hash;
};

function mount(nodes, extraCleanup) {
  for (const fn of cleanup) fn();
  cleanup = extraCleanup ? [extraCleanup] : [];
  replace(root, ...nodes);
  root.removeAttribute("aria-busy");
}

function asView(v) {
  return v instanceof Node ? { node: v, cleanup: null } : v;
}

async function render() {
  const seq = ++renderSeq;
  const route = parseRoute();
  const [first, arg] = route.parts;
  if (device.status === "loading") return;

  if ((first === "join" && arg) || first === "link") {
    // #/join/<code>/<inviter's account-key fingerprint> (docs/PROTOCOL.md §18); #/link: add this browser.
    if (device.status === "none" && first === "join") return mount(joinView(device, arg, { onDone: () => go("#/"), fingerprint: route.parts[2] || null }));
    if (device.status === "none") return mount(newDeviceLinkView(device, { frame, onDone: () => go("#/") }));
    if (device.status === "locked") return mount(existingDeviceView(device));
    return go("#/");
  }
  if (device.status === "none") return mount(welcomeView());
  if (device.status === "revoked") return mount(revokedView(device));
  if (device.status === "locked") return mount(unlockView(device, { onDone: () => render() }));

  // Ready. Consent before contact: a client sees the therapist's terms before anything else.
  if (device.role === "client") {
    let terms = null;
    try {
      terms = await device.pendingTerms();
    } catch (e) {
      if (e.code === "consent_required" || e.code === "not_found") terms = { missing: true };
    }
    if (seq !== renderSeq) return;
    if (terms && terms.missing) return show(route, waitingTermsView());
    if (terms) return show(route, acceptTermsView(device, terms, { onDone: () => go("#/") }));
  }

  let view;
  switch (device.role === "admin" && !first ? "admin" : first || "") {
    case "":
      if (device.role === "therapist") view = clientsView(device, null);
      else view = clientHome();
      break;
    case "chat":
      view = device.role === "therapist" ? clientsView(device, arg) : chatView(device, arg);
      break;
    case "verify":
      view = verifyView(device, arg);
      break;
    case "invite":
      view = inviteView(device);
      break;
    case "terms":
      view = device.role === "therapist" ? publishTermsView(device) : clientHome();
      break;
    case "sessions":
      view = sessionsView(device);
      break;
    case "call":
      view = callView(device, arg);
      break;
    case "devices":
      view = devicesView(device);
      break;
    case "admin":
      view = adminView();
      break;
    default:
      view = h("div", { class: "page" }, h("div", { class: "card" }, h("h1", null, "Not found"), h("a", { href: "#/" }, "Go home")));
  }
  show(route, view);
}

function clientHome() {
  const therapist = device.me.linked_account_id;
  if (therapist && device.contacts.has(therapist)) {
    const chat = chatView(device, therapist);
    return { node: h("div", { class: "client-chat" }, chat.node), cleanup: chat.cleanup };
  }
  return h("div", { class: "page" }, h("div", { class: "card" }, h("h1", null, "Connecting…"), h("p", { class: "muted" }, "Loading your conversation.")));
}

function adminView() {
  const container = h("div", { class: "page" }, h("p", { class: "muted" }, "Loading dashboard…"));
  let dispose = null;
  import("./admin/index.js").then((mod) => {
    dispose = mod.mount(container, device) || null;
  });
  return { node: container, cleanup: () => dispose && dispose() };
}

function show(route, v) {
  const { node, cleanup: c } = asView(v);
  const s = shell(device, route, node);
  mount(s.nodes, () => {
    s.cleanup();
    if (c) c();
  });
  focusMain();
}

/** After a screen change, keyboard and screen-reader users start at its heading (unless a field took focus). */
function focusMain() {
  requestAnimationFrame(() => {
    const main = document.getElementById("main");
    if (!main) return;
    const heading = main.querySelector("h1, h2");
    document.title = heading && heading.textContent ? `${heading.textContent} · Confidant` : "Confidant";
    if (main.contains(document.activeElement)) return;
    const target = heading || main;
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  });
}

window.addEventListener("hashchange", () => render());
device.addEventListener("change", (e) => {
  const what = e.detail.what;
  if (what === "status") render();
  // A client waiting for contacts or for (new) terms re-evaluates the gate.
  // Only on the home route: elsewhere (e.g. approving a new device on #/devices) a re-render would lose the screen's state.
  if (what === "contacts" && device.role === "client" && !root.querySelector(".chat") && !parseRoute().parts.length) render();
  if (what === "contacts" && device.role === "client" && root.querySelector(".chat")) {
    const t = device.contacts.get(device.me.linked_account_id);
    if (t && t.consent && t.consent.accepted_version !== t.consent.current_version) render();
  }
});
device.load().then(render, (e) => {
  replace(root, h("div", { class: "page" }, h("div", { class: "notice error", role: "alert" }, `Confidant could not start: ${e.message}`)));
});
