// The frame around every signed-in screen: brand, navigation for the role, connection state, lock.
import { h, announce } from "../lib/dom.js";

const NAV = {
  client: [
    ["#/", "Messages"],
    ["#/sessions", "Sessions"],
    ["#/devices", "Devices"],
    ["#/account", "Account"],
  ],
  therapist: [
    ["#/", "Clients"],
    ["#/sessions", "Sessions"],
    ["#/invite", "Invite"],
    ["#/terms", "Terms"],
    ["#/devices", "Devices"],
    ["#/account", "Account"],
  ],
  admin: [
    ["#/admin", "Dashboard"],
    ["#/invite", "Invite a therapist"],
    ["#/devices", "Devices"],
  ],
};

const CONN_TEXT = { online: "Online", connecting: "Reconnecting…", offline: "Offline" };

export function brand() {
  return h("a", { class: "brand", href: "#/" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "C"), h("span", { class: "brand-name" }, "Confidant"));
}

export function shell(device, route, content) {
  const conn = h("span", { class: "conn", "data-state": device.rt.state, role: "status" }, CONN_TEXT[device.rt.state]);
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
    if (d.what === "messages" && d.incoming && !document.querySelector(`.chat[data-account="${d.accountId}"]`))
      announce(`New message from ${device.contactName(d.accountId)}`);
    if (d.what !== "connection") return;
    conn.dataset.state = device.rt.state;
    conn.textContent = CONN_TEXT[device.rt.state];
  };
  device.addEventListener("change", onConn);
  const current = navCurrent(route);
  const links = (NAV[device.role] || []).map(([href, text]) =>
    h("a", { href, "aria-current": href === current ? "page" : null }, text, href === "#/" ? badge : null),
  );
  updateBadge();
  const header = h(
    "header",
    { class: "topbar" },
    brand(),
    h("nav", { class: "topnav", "aria-label": "Main" }, links),
    h("span", { class: "spacer" }),
    conn,
    h("button", { class: "secondary small", type: "button", onclick: () => device.lock(), title: "Lock this device: your passphrase is needed to open it again" }, "Lock"),
  );
  const main = h("main", { id: "main", tabindex: "-1" }, content);
  return { nodes: [header, main], cleanup: () => device.removeEventListener("change", onConn) };
}

function navCurrent(route) {
  const first = route.parts[0] || "";
  if (first === "" || first === "chat" || first === "verify") return "#/";
  return `#/${first}`;
}
