// Getting a person's attention without revealing anything: the unread count in the tab title, and, if they
// opted in, a system notification that says only "New message" while Confidant is open in a background tab.
// Never a name, never a word of the message: notifications are shown by the operating system, on lock screens
// and in notification histories outside Confidant's encryption.

const PREF = "prefs:notifications";
const UNREAD = /^\(\d+\) /;
let enabled = false;

export function notificationsSupported() {
  return typeof Notification === "function";
}

/** Whether this device asked for notifications (kept in the encrypted vault, never in localStorage). */
export async function loadNotificationPref(device) {
  try {
    enabled = !!(await device.vault.get(PREF));
  } catch {
    enabled = false;
  }
  return enabled && notificationsSupported() && Notification.permission === "granted";
}

/** Turn notifications on (asks the browser for permission) or off. Returns whether they are now on. */
export async function setNotifications(device, on) {
  if (on) {
    if (!notificationsSupported()) return false;
    const permission = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
    on = permission === "granted";
  }
  enabled = on;
  await device.vault.put(PREF, on);
  return on;
}

export function notificationsOn() {
  return enabled && notificationsSupported() && Notification.permission === "granted";
}

function totalUnread(device) {
  let total = 0;
  for (const id of device.contacts.keys()) total += device.messenger.unread(id);
  return total;
}

/** The tab title with the unread count in front: "(2) Your clients · Confidant". */
export function titleWithUnread(device, title) {
  const base = title.replace(UNREAD, "");
  const n = device.status === "ready" && device.messenger ? totalUnread(device) : 0;
  return n ? `(${n}) ${base}` : base;
}

/** Keep the title's count current and raise content-free notifications for messages that arrive unseen. */
export function startAttention(device) {
  const retitle = () => {
    const next = titleWithUnread(device, document.title);
    if (next !== document.title) document.title = next;
  };
  let seen = 0; // the unread total last time: only a rise means a new message (receipts also touch conversations)
  device.addEventListener("change", (e) => {
    const d = e.detail;
    if (d.what === "status" && device.status === "ready") loadNotificationPref(device).then(retitle, retitle);
    if (d.what === "messages" || d.what === "contacts") retitle();
    const unread = device.status === "ready" && device.messenger ? totalUnread(device) : 0;
    const rose = unread > seen;
    seen = unread;
    if (d.what === "messages" && d.incoming && rose && document.visibilityState === "hidden" && notificationsOn()) {
      // One notification at a time (same tag): a burst of messages does not stack up a burst of alerts.
      const n = new Notification("New message", { tag: "confidant-message" });
      n.onclick = () => {
        window.focus();
        n.close();
      };
    }
  });
  document.addEventListener("visibilitychange", retitle);
}
