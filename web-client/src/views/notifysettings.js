// Opt-in, content-free notifications: a card on the Devices page (this browser's setting).
import { h, announce } from "../lib/dom.js";
import { loadNotificationPref, notificationsSupported, setNotifications } from "../app/attention.js";

export function notificationsCard(device) {
  const state = h("p", { class: "muted", role: "status" });
  const toggle = h("button", { type: "button", class: "secondary" }, "…");
  let on = false;
  const show = () => {
    toggle.textContent = on ? "Turn off notifications" : "Turn on notifications";
    state.textContent = on
      ? "On: when Confidant is open in a background tab, this browser shows “New message”. Nothing else."
      : notificationsSupported() && Notification.permission === "denied"
        ? "Off: this browser blocks notifications for Confidant. Allow them in the site settings to turn them on."
        : "Off.";
  };
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    on = await setNotifications(device, !on);
    toggle.disabled = false;
    show();
    announce(on ? "Notifications on" : "Notifications off");
  });
  loadNotificationPref(device).then((v) => ((on = v), show()));
  if (!notificationsSupported()) toggle.disabled = true;
  return h(
    "section",
    { class: "card", "aria-labelledby": "notify-title" },
    h("h2", { id: "notify-title" }, "Notifications"),
    h("p", null, "A notification says only “New message”: never who wrote or what they wrote, because the system shows it outside Confidant (on a lock screen, in a notification list). It appears while Confidant is open in a background tab; with every tab closed nothing arrives."),
    state,
    toggle,
  );
}
