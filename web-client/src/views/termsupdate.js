// A therapist's new terms version, shown to a client inside their conversation: a notice, what changed
// (a line diff against the version this device accepted), the new text in full, and an accept step.
// The conversation and whatever the client is typing stay where they are; sending waits for acceptance.
import { h, announce, formatDateTime } from "../lib/dom.js";
import { acceptAndRemember, rememberedTerms, termsUpdatePending } from "../app/termsmemory.js";
import { termsDiffView } from "./termsdiff.js";
import { withScrollCue } from "./scrollcue.js";
import { custodianNotice } from "./terms.js";

export function termsUpdateBox(device, therapistId) {
  const box = h("div", { class: "terms-update", hidden: true });
  let open = false;
  let loading = null;
  let shownVersion = 0;

  const review = async () => {
    const terms = await device.therapistTerms(therapistId);
    const before = await rememberedTerms(device, therapistId);
    const err = h("div", { class: "notice error", role: "alert", hidden: true });
    const check = h("input", { type: "checkbox", id: "terms-update-read" });
    const accept = h("button", { type: "button", disabled: true }, "I accept the updated terms");
    check.addEventListener("change", () => (accept.disabled = !check.checked));
    accept.addEventListener("click", async () => {
      accept.disabled = true;
      err.hidden = true;
      try {
        await acceptAndRemember(device, terms);
        announce("Updated terms accepted. You can send your message.");
        open = false;
        sync();
        document.getElementById("composer")?.focus();
      } catch (e) {
        accept.disabled = false;
        err.textContent = e.message;
        err.hidden = false;
      }
    });
    const changes =
      before && before.text
        ? [h("h3", null, `What changed since version ${before.version}`), termsDiffView(before.text, terms.text)]
        : [h("p", { class: "small muted" }, "This device has no copy of the version you accepted before, so the new version is shown in full.")];
    return h(
      "section",
      { class: "terms-review", "aria-labelledby": "terms-review-title" },
      h("h2", { id: "terms-review-title", tabindex: "-1" }, `Updated terms, version ${terms.version}`),
      h("p", { class: "small muted" }, `Published ${formatDateTime(terms.published_at)}.`),
      changes,
      h("h3", null, "The new terms in full"),
      withScrollCue(h("div", { class: "terms-text", tabindex: "0", role: "document", "aria-label": "Updated terms text", dir: "auto" }, terms.text)),
      custodianNotice(terms.text),
      err,
      h("div", { class: "field row" }, check, h("label", { for: "terms-update-read" }, "I have read the updated terms.")),
      h("div", { class: "row end" }, h("button", { type: "button", class: "ghost small", onclick: () => ((open = false), sync()) }, "Later"), accept),
    );
  };

  const sync = () => {
    const pending = termsUpdatePending(device);
    box.hidden = !pending;
    if (!pending) {
      box.replaceChildren();
      return;
    }
    const t = device.contacts.get(therapistId);
    const version = t.consent.current_version;
    const name = device.contactName(therapistId);
    const toggle = h("button", { type: "button", class: "small", "aria-expanded": String(open), onclick: () => ((open = !open), sync(), open && focusReview()) }, open ? "Hide" : "Read what changed");
    const notice = h(
      "div",
      { class: "notice warn", role: "status" },
      h("strong", null, `${name} updated their terms — what changed`),
      h("p", { class: "small" }, "Please read and accept them before your next message or session. Anything you are typing is kept."),
      h("div", { class: "row" }, toggle),
    );
    const keep = box.querySelector(".terms-review");
    if (open && keep && shownVersion === version) return box.replaceChildren(notice, keep);
    box.replaceChildren(notice);
    if (!open) return;
    shownVersion = version;
    const slot = h("div", { class: "muted small" }, "Loading the updated terms…");
    box.appendChild(slot);
    loading = review().then(
      (node) => slot.isConnected && slot.replaceWith(node),
      (e) => slot.isConnected && (slot.textContent = `The updated terms could not be loaded: ${e.message}`),
    );
  };
  const focusReview = () => loading && loading.then(() => box.querySelector("#terms-review-title")?.focus());

  const onChange = (e) => e.detail.what === "contacts" && sync();
  device.addEventListener("change", onChange);
  sync();
  return {
    node: box,
    /** Sending is held while an update waits: open the review and say the draft is kept. */
    holdSend() {
      if (!termsUpdatePending(device)) return false;
      if (!open) {
        open = true;
        sync();
      }
      focusReview();
      announce("Accept the updated terms to send your message. It is kept.");
      return true;
    },
    cleanup: () => device.removeEventListener("change", onChange),
  };
}
