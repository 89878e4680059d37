// "My account activity": the owner's own audit entries (GET /audit/me), in plain language, newest first.
// The server records events about the account (sign-ins, devices, terms accepted), never what was said.
import { h, formatDateTime } from "../lib/dom.js";

const PAGE = 50;

function deviceName(device, id) {
  if (!id) return "a device that is no longer on your account";
  return id === device.me.device_id ? "this browser" : `device ${id.slice(0, 8)}`;
}

/** One entry as a sentence a person understands. Unknown events still show, by their name. */
export function describe(device, e) {
  const d = e.details || {};
  const on = deviceName(device, d.device_id);
  switch (e.event) {
    case "account_registered":
      return `Your account was created${d.role ? ` (${d.role})` : ""}.`;
    case "login":
      return `Signed in from ${on}.`;
    case "login_failed":
      return `A sign-in from ${on} was refused${d.reason ? ` (${d.reason.replaceAll("_", " ")})` : ""}.`;
    case "device_added":
      return `A device was added: ${on}.`;
    case "device_revoked":
      return `A device was removed: ${on}.`;
    case "key_changed":
      return `New keys were published for ${on}.`;
    case "consent_accepted":
      return `You accepted confidentiality terms${d.version ? `, version ${d.version}` : ""}.`;
    case "session_admitted":
      return "You were admitted to a video session.";
    case "session_ended":
      return "A video session you led ended.";
    case "admin_invitation_created":
      return "You created an invitation.";
    case "admin_invitation_revoked":
      return "You withdrew an invitation.";
    case "admin_account_disabled":
      return "An administrator disabled your account.";
    case "admin_account_enabled":
      return "An administrator enabled your account again.";
    case "admin_device_revoked":
      return `An administrator removed ${on}.`;
    case "admin_practice_changed":
      return "You changed the practice rules.";
    case "admin_custodian_set":
      return "You set the practice's records custodian key.";
    case "admin_custodian_off":
      return "You turned the practice's records custodian off.";
    default:
      return `${e.event.replaceAll("_", " ")}.`;
  }
}

export function activityView(device) {
  const list = h("ol", { class: "session-list activity-list", "aria-label": "Account activity" });
  const status = h("p", { class: "muted", role: "status" }, "Loading…");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show older activity");
  let before = null;
  const load = async () => {
    more.disabled = true;
    try {
      const q = before ? `?before=${before}&limit=${PAGE}` : `?limit=${PAGE}`;
      const { entries } = await device.api.get(`/audit/me${q}`);
      for (const e of entries)
        list.appendChild(
          h(
            "li",
            { class: ["session-item", e.by_admin ? "by-admin" : ""] },
            h("span", { class: "client-name" }, describe(device, e), h("span", { class: "client-sub" }, h("time", { datetime: new Date(e.at).toISOString() }, formatDateTime(e.at)))),
            e.by_admin ? h("span", { class: "pill" }, "Administrator") : null,
          ),
        );
      if (entries.length) before = entries[entries.length - 1].seq;
      more.hidden = entries.length < PAGE;
      status.textContent = list.children.length ? "" : "Nothing recorded yet.";
    } catch (e) {
      status.textContent = `Your activity could not be loaded: ${e.message}`;
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  load();
  return h(
    "div",
    { class: "page" },
    h(
      "section",
      { class: "card", "aria-labelledby": "activity-title" },
      h("h1", { id: "activity-title" }, "My account activity"),
      h("p", { class: "muted" }, "What the server recorded about your account: sign-ins, devices added or removed, terms accepted, actions of an administrator. It never records what you wrote or who you talk to. If something here was not you, remove the device on your Devices page and tell your administrator."),
      status,
      list,
      more,
    ),
  );
}
