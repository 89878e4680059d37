// The page's side of the pinned release (public/sw.js, docs/WEB.md "Pinned code"): registers the service worker
// once the page has loaded, and shows what it reports: "Confidant was updated (version, date)", or a warning
// when the server offered code that the pinned release key did not sign.
import { h, replace } from "../lib/dom.js";

const when = (iso) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" });
};

export function startReleaseGuard() {
  const box = document.getElementById("release-notice");
  if (!box || !("serviceWorker" in navigator) || !window.isSecureContext) return;
  const sw = navigator.serviceWorker;
  let shown = null; // what the box says now: "updated" | "refused" | "replaced"

  const show = (kind, role, ...content) => {
    shown = kind;
    box.className = `release-notice ${kind === "updated" ? "info" : "error"}`;
    box.setAttribute("role", role);
    const dismiss = h("button", { type: "button", class: "ghost small", onclick: () => (box.hidden = true) }, "Dismiss");
    replace(box, h("p", null, ...content), h("div", { class: "row" }, ...(kind === "updated-live" ? [reloadButton()] : []), dismiss));
    box.hidden = false;
  };
  const reloadButton = () => h("button", { type: "button", class: "small", onclick: () => location.reload() }, "Reload");

  sw.addEventListener("message", ({ data }) => {
    if (!data) return;
    const refused = data.type === "refused" ? data : data.type === "status" && data.refused ? { ...data, reason: data.refused.reason } : null;
    const live = data.type === "updated" ? data : data.type === "status" && data.pending;
    if (refused)
      show(
        "refused",
        "alert",
        h("strong", null, "Warning: the server offered a changed Confidant that this deployment did not sign. "),
        `It was refused (${refused.reason}); you are still using version ${refused.version} of ${when(refused.builtAt)}. `,
        "Tell your administrator before you unlock, and do not clear this site's data.",
      );
    else if (live && shown !== "refused")
      show("updated-live", "status", `Confidant was updated (${live.version}, ${when(live.builtAt)}). Reload to use the new version.`);
    else if (data.type === "status" && data.notice && !shown)
      show("updated", "status", `Confidant was updated (${data.notice.version}, ${when(data.notice.builtAt)}).`);
  });

  // A page that was guarded and sees a different guard take over: the server replaced the service worker
  // itself, the one change it can force (docs/WEB.md). The code already running here is still the pinned one.
  const guarded = !!sw.controller;
  sw.addEventListener("controllerchange", () => {
    if (guarded)
      show("replaced", "alert", h("strong", null, "Warning: the server replaced Confidant's code guard (its service worker). "), "Do not reload or unlock until your administrator confirms a new release.");
  });

  const register = () =>
    sw
      .register("/sw.js", { scope: "/", updateViaCache: "none" })
      .then(() => sw.ready)
      // "check": the answer comes after this load's update check, with what it found.
      .then((reg) => reg.active && reg.active.postMessage({ type: "check" }))
      .catch(() => {}); // no service worker: the app still works, unpinned
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register, { once: true });
}
