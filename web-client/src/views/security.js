// Sections of the device screen about this browser's own safety: the idle lock delay, and removing the
// account from this browser (the device is revoked on the server before anything local is wiped).
import { h, announce } from "../lib/dom.js";
import { IDLE_CHOICES } from "../app/idle.js";

const label = (m) => (m === 0 ? "Never" : m === 60 ? "After 1 hour" : `After ${m} minute${m === 1 ? "" : "s"}`);

export function idleLockSection(device) {
  const select = h(
    "select",
    { id: "idle-minutes", "aria-describedby": "idle-hint" },
    IDLE_CHOICES.map((m) => h("option", { value: String(m), selected: m === device.idle.minutes }, label(m))),
  );
  const saved = h("span", { class: "hint", role: "status" });
  select.addEventListener("change", async () => {
    await device.idle.setMinutes(Number(select.value));
    saved.textContent = "Saved.";
    announce(`Idle lock: ${label(device.idle.minutes).toLowerCase()}`);
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "idle-title" },
    h("h2", { id: "idle-title" }, "Lock when idle"),
    h(
      "div",
      { class: "field" },
      h("label", { for: "idle-minutes" }, "Lock this browser when it is not used"),
      select,
      h("span", { class: "hint", id: "idle-hint" }, "Locking signs this browser out on the server; your passphrase opens it again."),
      saved,
    ),
  );
}

export function removeAccountSection(device) {
  const err = h("div", { class: "notice error", role: "alert", hidden: true });
  const button = h("button", { type: "button", class: "danger" }, "Remove this account from this browser");
  button.addEventListener("click", async () => {
    if (!window.confirm("Remove this browser from your account and erase the messages stored here? This cannot be undone.")) return;
    err.hidden = true;
    button.disabled = true;
    try {
      await device.removeFromBrowser();
    } catch (e) {
      button.disabled = false;
      err.textContent =
        e.code === "network"
          ? "The server cannot be reached, so this browser is still on your account. Nothing was erased: try again when you are online."
          : e.message || "This browser could not be removed.";
      err.hidden = false;
    }
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "remove-title" },
    h("h2", { id: "remove-title" }, "Remove this browser"),
    h("p", { class: "muted" }, "This browser is removed from your account on the server first (the people you talk to are told), then its keys and messages are erased here."),
    err,
    button,
  );
}
