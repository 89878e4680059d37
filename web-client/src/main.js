// Entry point: hash router and role-aware screens. No inline script or style anywhere (strict CSP).
import "./styles.css";
import { h, replace } from "./lib/dom.js";
import { Device } from "./app/device.js";
import { ready as cryptoReady } from "./crypto/primitives.js";
import { prepareOneTimePrekeys } from "./crypto/keys.js";
import { PREKEY_BATCH_SIZE } from "./crypto/limits.js";
import { warmFonts } from "./lib/fontwarm.js";
import { startReleaseGuard } from "./app/release.js";
import { shell } from "./views/shell.js";
import { welcomeView, joinView, existingDeviceView, unlockView, revokedView, frame } from "./views/onboarding.js";
import { newDeviceLinkView } from "./views/link.js";
import { restoreView } from "./views/restore.js";
import { recoveryKeySection } from "./views/recoverykey.js";
import { HistorySync } from "./app/history.js";
import { acceptTermsView, waitingTermsView, publishTermsView } from "./views/terms.js";
import { inviteView } from "./views/invite.js";
import { clientsView } from "./views/clients.js";
import { chatView } from "./views/chat.js";
import { verifyView } from "./views/verify.js";
import { sessionsView } from "./views/sessions.js";
import { callView } from "./views/call.js";
import { devicesView } from "./views/devices.js";
import { accountView, dischargeView, endedClientView } from "./views/account.js";
import { renameView } from "./views/names.js";
import { endedAt, watchEnding } from "./app/ending.js";
import { withAccountCards } from "./views/accountcards.js";
import { activityView } from "./views/activity.js";
import { invitationGate } from "./views/invitecheck.js";
import { termsUpdatePending } from "./app/termsmemory.js";
import { startAttention, titleWithUnread } from "./app/attention.js";
import { notesView } from "./views/notes.js";
import { newRecoveryKeyView } from "./views/newrecovery.js";

const root = document.getElementById("app");
const device = new Device();
// Conversation history in the vault (app/history.js): written as messages are read and sent, adopted by a
// linked or restored browser.
device.history = new HistorySync(device);
watchEnding(device);
let cleanup = [];
let renderSeq = 0;

function parseRoute() {
  if (location.hash === "#main") return { parts: [], hash: "" }; // the skip link's target, should it be followed
  const hash = location.hash.replace(/^#\/?/, "");
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, hash };
}

const go = (hash) => {
  if (location.hash === hash) renderSoon();
  else location.hash = hash;
};

// Several causes of a render often come together (a status change, then the hash change it leads to): they
// make one render, in a task of its own, not two renders inside the task that caused them (after joining,
// that task was the longest the page ran).
let renderQueued = false;
function renderSoon() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => {
    renderQueued = false;
    render();
  }, 0);
}

function mount(nodes, extraCleanup) {
  for (const fn of cleanup) fn();
  cleanup = extraCleanup ? [extraCleanup] : [];
  replace(root, ...nodes);
  root.removeAttribute("aria-busy");
  setTitle();
}

/** The tab title names the screen (its h1), so a person with many tabs, or a screen reader, knows where they are. */
function setTitle() {
  const heading = document.querySelector("#main h1");
  const text = heading && heading.textContent.trim();
  const title = !text ? "Confidant" : text.includes("Confidant") ? text : `${text} · Confidant`;
  document.title = titleWithUnread(device, title); // "(2) …": unread messages show in the tab
}

// The skip link moves focus to the screen's content itself: as a plain "#main" link it would be taken by the
// hash router (a "Not found" screen, or a join form thrown away with what was typed).
document.querySelector(".skip-link")?.addEventListener("click", (e) => {
  e.preventDefault();
  const main = document.getElementById("main");
  if (!main) return;
  if (!main.hasAttribute("tabindex")) main.setAttribute("tabindex", "-1");
  main.focus();
});

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
    if (device.status === "none" && first === "join") return mount(invitationGate(device, arg, joinView(device, arg, { onDone: () => go("#/"), fingerprint: route.parts[2] || null })));
    if (device.status === "none") return mount(newDeviceLinkView(device, { frame, onDone: () => go("#/") }));
    if (device.status === "locked") return mount(existingDeviceView(device));
    return go("#/");
  }
  if (first === "restore" && device.status === "none") return mount(restoreView(device, { frame, onDone: () => go("#/") }));
  if (device.status === "none") return mount(welcomeView());
  if (device.status === "revoked") return mount(revokedView(device));
  if (device.status === "locked") return mount(unlockView(device, { onDone: () => render() }));
  // An account just created here: its recovery key first, once, for every role (views/newrecovery.js).
  if (device.newAccount) {
    const saved = () => {
      device.newAccount = false;
      device.firstRecoveryKey = null; // the key's text leaves memory
      go("#/");
    };
    return mount(newRecoveryKeyView(device, { frame, onDone: saved }));
  }

  // Ready. Consent before contact: a client sees the therapist's terms before anything else.
  if (device.role === "client") {
    const ended = device.me.linked_account_id;
    if (ended && endedAt(device, ended)) return show(route, first === "account" ? accountView(device) : endedClientView(device, ended));
    let terms = null;
    try {
      terms = await device.pendingTerms();
    } catch (e) {
      if (e.code === "consent_required" || e.code === "not_found") terms = { missing: true };
    }
    if (seq !== renderSeq) return;
    if (terms && terms.missing) return show(route, waitingTermsView());
    // An update to terms already accepted is shown in the conversation (the draft is kept); a session still waits.
    if (terms && !(termsUpdatePending(device) && first !== "call"))
      return show(route, acceptTermsView(device, terms, { onDone: first === "call" ? () => render() : () => go("#/") }));
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
      view = withAccountCards(devicesView(device), device);
      break;
    case "activity":
      view = activityView(device);
      break;
    case "account":
      view = accountView(device, { extra: [recoveryKeySection(device)] });
      break;
    case "end":
      view = device.role === "therapist" && device.contacts.has(arg) ? dischargeView(device, arg) : clientsView(device, null);
      break;
    case "rename":
      view = device.role === "therapist" && device.contacts.has(arg) ? renameView(device, arg) : clientsView(device, null);
      break;
    case "notes":
      view = device.role === "therapist" && arg ? notesView(device, arg) : clientHome();
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
    setTitle();
    if (main.contains(document.activeElement)) return;
    const target = heading || main;
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  });
}

window.addEventListener("hashchange", () => renderSoon());
device.addEventListener("change", (e) => {
  const what = e.detail.what;
  if (what === "status" || what === "link_ended") renderSoon();
  // A client waiting for contacts or for (new) terms re-evaluates the gate.
  // Only on the home route: elsewhere (e.g. approving a new device on #/devices) a re-render would lose the screen's state.
  if (what === "contacts" && device.role === "client" && !root.querySelector(".chat") && !parseRoute().parts.length) render();
  if (what === "contacts" && device.role === "client" && root.querySelector(".chat")) {
    const t = device.contacts.get(device.me.linked_account_id);
    if (t && t.consent && t.consent.accepted_version !== t.consent.current_version && !termsUpdatePending(device)) render();
  }
});
/** Screens that will need libsodium on submit fetch it when the person starts typing (their passphrase takes
 * longer to type than libsodium takes to arrive): never on the first screen's critical path. */
function warmCrypto() {
  const { parts } = parseRoute();
  const needs = device.status === "locked" || ((parts[0] === "join" || parts[0] === "link") && parts[1]);
  if (!needs) return;
  // A new device also needs its first one-time prekeys, and its next screen's fonts: both made ready while the
  // person types, a few at a time.
  const joining = device.status === "none";
  const warm = () =>
    cryptoReady()
      .then(() => joining && prepareOneTimePrekeys(PREKEY_BATCH_SIZE))
      .then(() => joining && warmFonts())
      .catch(() => {});
  document.addEventListener("input", warm, { once: true, capture: true });
}

if (import.meta.env.PROD) startReleaseGuard();
startAttention(device);
device.load().then(() => {
  renderSoon(); // the same render as the status change load() announced
  warmCrypto();
}, (e) => {
  replace(root, h("div", { class: "page" }, h("div", { class: "notice error", role: "alert" }, `Confidant could not start: ${e.message}`)));
});
