// The frame around every signed-in screen: brand, navigation for the role, connection state, lock.
import { h, burstAnnouncer } from "../lib/dom.js";

const NAV = {
  client: [
    ["#/", "Messages"],
    ["#/sessions", "Sessions"],
    ["#/devices", "Devices"],
    ["#/activity", "Activity"],
    ["#/account", "Account"],
  ],
  therapist: [
    ["#/", "Clients"],
    ["#/sessions", "Sessions"],
    ["#/invite", "Invite"],
    ["#/terms", "Terms"],
    ["#/devices", "Devices"],
    ["#/activity", "Activity"],
    ["#/account", "Account"],
  ],
  admin: [
    ["#/admin", "Dashboard"],
    ["#/invite", "Invite a therapist"],
    ["#/devices", "Devices"],
    ["#/activity", "Activity"],
  ],
};

const sayArrived = burstAnnouncer(); // messages for a conversation not on screen (lib/dom.js)
const CONN_TEXT = { online: "Online", connecting: "Reconnecting…", offline: "Offline" };

export function brand() {
  return h("a", { class: "brand", href: "#/" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "C"), h("span", { class: "brand-name" }, "Confidant"));
}

// The browser knows when it has no network at all: that is "Offline", not "Reconnecting…". Its signal is the
// offline event while the app runs, or navigator.onLine before the relay was ever reached (Chromium reports
// onLine false on a machine with only loopback even though a local relay is reachable, so it never overrides
// a working connection).
let offlineSignal = false;
let everOnline = false;
window.addEventListener("offline", () => (offlineSignal = true));
window.addEventListener("online", () => (offlineSignal = false));
function connState(device) {
  if (device.rt.state === "online") {
    everOnline = true;
    return "online";
  }
  if (offlineSignal || (navigator.onLine === false && !everOnline)) return "offline";
  return device.rt.state;
}

export function shell(device, route, content) {
  const conn = h("span", { class: "conn", "data-state": connState(device), role: "status" }, CONN_TEXT[connState(device)]);
  const badge = h("span", { class: "badge nav-badge", hidden: true, "aria-hidden": "true" });
  const updateBadge = () => {
    let total = 0;
    for (const id of device.contacts.keys()) total += device.messenger.unread(id);
    badge.hidden = !total;
    badge.textContent = String(total);
  };
  const onConn = (e) => {
    const d = e.detail;
    if (d.what === "contacts" || d.what === "messages") updateBadge();
    // New messages are announced by their conversation when it is open, here otherwise.
    // One burst at a time (a backlog arrives page by page): the first at once, then how many are unread.
    if (d.what === "messages" && d.incoming && !document.querySelector(`.chat[data-account="${d.accountId}"]`)) {
      const who = device.contactName(d.accountId);
      const unread = () => device.messenger.unread(d.accountId);
      sayArrived(d.accountId, 1, () => `New message from ${who}`, () => (unread() ? `${unread()} unread ${unread() === 1 ? "message" : "messages"} from ${who}` : ""));
    }
    if (d.what !== "connection") return;
    showConn();
  };
  const showConn = () => {
    const state = connState(device);
    conn.dataset.state = state;
    conn.textContent = CONN_TEXT[state];
  };
  device.addEventListener("change", onConn);
  window.addEventListener("online", showConn);
  window.addEventListener("offline", showConn);
  const current = navCurrent(route);
  const links = (NAV[device.role] || []).map(([href, text]) =>
    h("a", { href, "aria-current": href === current ? "page" : null }, text, href === "#/" ? badge : null),
  );
  updateBadge();
  // On a phone the navigation folds behind a Menu button instead of being clipped.
  const nav = h("nav", { class: "topnav", id: "topnav", "aria-label": "Main" }, links);
  const menu = h("button", { class: "secondary small menu-toggle", type: "button", "aria-expanded": "false", "aria-controls": "topnav" }, "Menu", badge.cloneNode(true));
  const header = h(
    "header",
    { class: "topbar" },
    brand(),
    menu,
    nav,
    h("span", { class: "spacer" }),
    conn,
    h("button", { class: "secondary small", type: "button", onclick: () => device.lock(), title: "Lock this device: your passphrase is needed to open it again" }, "Lock"),
  );
  menu.addEventListener("click", () => {
    const open = menu.getAttribute("aria-expanded") !== "true";
    menu.setAttribute("aria-expanded", String(open));
    header.classList.toggle("menu-open", open);
    if (open) nav.querySelector("a")?.focus();
  });
  nav.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || !header.classList.contains("menu-open")) return;
    menu.click();
    menu.focus();
  });
  const menuBadge = menu.querySelector(".nav-badge");
  const syncMenuBadge = () => {
    menuBadge.hidden = badge.hidden;
    menuBadge.textContent = badge.textContent;
  };
  const onBadge = (e) => (e.detail.what === "contacts" || e.detail.what === "messages") && syncMenuBadge();
  device.addEventListener("change", onBadge);
  syncMenuBadge();
  const main = h("main", { id: "main", tabindex: "-1" }, content);
  return {
    nodes: [header, main],
    cleanup: () => {
      device.removeEventListener("change", onConn);
      device.removeEventListener("change", onBadge);
      window.removeEventListener("online", showConn);
      window.removeEventListener("offline", showConn);
    },
  };
}

function navCurrent(route) {
  const first = route.parts[0] || "";
  if (first === "" || first === "chat" || first === "verify") return "#/";
  return `#/${first}`;
}
