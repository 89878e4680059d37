// More of the Devices page: this account's id (what an administrator needs to disable the account or revoke a
// device), notifications for this browser, and a confirmation before a device is removed.
import { h, announce } from "../lib/dom.js";
import { notificationsCard } from "./notifysettings.js";

/** Add the account id and notification cards to the Devices screen. */
export function withAccountCards(view, device) {
  view.node.append(accountIdCard(device), notificationsCard(device));
  return view;
}

function accountIdCard(device) {
  const id = device.me.account_id;
  const copied = h("span", { class: "small muted", role: "status" });
  const who = device.role === "client" ? "your therapist or the administrator" : "the administrator";
  return h(
    "section",
    { class: "card", "aria-labelledby": "account-id-title" },
    h("h2", { id: "account-id-title" }, "Your account id"),
    h("p", { class: "muted" }, `If a device is lost or stolen, ${who} can disable your account or remove a device with this id. It is not secret and says nothing about your conversations.`),
    h("code", { class: "link-box account-id", "data-testid": "account-id" }, id),
    h("div", { class: "row" }, copyButton(id, copied, "Copy account id"), copied),
  );
}

/** A button that copies `text` and says so next to itself (a status region: screen readers hear it too). */
export function copyButton(text, status, label = "Copy") {
  return h(
    "button",
    {
      type: "button",
      class: "secondary small",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
          status.textContent = "Copied";
        } catch {
          status.textContent = "Could not copy: select the text and copy it yourself.";
        }
      },
    },
    label,
  );
}

/** Removing a device asks first, in place: the button becomes a short question with Cancel / Remove. */
export function confirmRemoval(button, device, deviceId, onConfirmed) {
  const item = button.parentElement;
  const question = h(
    "div",
    { class: "confirm-remove", role: "group", "aria-label": "Confirm removal" },
    h("span", { class: "small" }, `Remove device ${deviceId.slice(0, 8)}? It stops receiving messages at once and cannot be added back without linking it again.`),
    h("button", { type: "button", class: "ghost small", onclick: () => question.replaceWith(button) || button.focus() }, "Cancel"),
    h(
      "button",
      {
        type: "button",
        class: "danger small",
        onclick: async (e) => {
          e.currentTarget.disabled = true;
          await onConfirmed();
        },
      },
      "Remove device",
    ),
  );
  button.replaceWith(question);
  question.querySelector("button.danger").focus();
  return item;
}
