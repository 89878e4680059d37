// A therapist with no clients yet: the first steps in order, publish terms, then invite a client; and the
// recovery key, which restores the account if every device is lost: made at account creation
// (views/newrecovery.js), so this step shows it done unless the server could not be reached then.
import { h } from "../lib/dom.js";

export function firstStepsPane(device) {
  const termsStep = h("li", { class: "step" }, h("strong", null, "Publish your confidentiality terms. "), h("span", { class: "muted" }, "Checking…"));
  const inviteStep = h(
    "li",
    { class: "step" },
    h("strong", null, "Invite a client. "),
    h("span", null, "They join with a link you send them, and read your terms before anything else."),
    h("div", { class: "row" }, h("a", { class: "button", href: "#/invite" }, "Invite a client")),
  );
  const recoveryStep = h(
    "li",
    { class: "step" },
    h("strong", null, "Make your recovery key. "),
    h("span", null, "If you lose every device, it restores your account, notes and conversations."),
    h("div", { class: "row" }, h("a", { class: "button secondary", href: "#/account" }, "Make it on the Account screen")),
  );
  device.api
    .get("/recovery")
    .then(() => {
      recoveryStep.classList.add("done");
      recoveryStep.replaceChildren(h("strong", null, "Recovery key made. "), h("a", { href: "#/account" }, "Make a new one"));
    })
    .catch(() => {});
  device
    .therapistTerms(device.me.account_id)
    .then((t) => {
      termsStep.classList.add("done");
      termsStep.replaceChildren(h("strong", null, "Confidentiality terms published. "), h("span", { class: "muted" }, `Version ${t.version}. `), h("a", { href: "#/terms" }, "Review or update them"));
    })
    .catch(() =>
      termsStep.replaceChildren(
        h("strong", null, "Publish your confidentiality terms. "),
        h("span", null, "Clients read and accept them before they can write to you or join a session."),
        h("div", { class: "row" }, h("a", { class: "button", href: "#/terms" }, "Write them now")),
      ),
    );
  return h(
    "div",
    { class: "empty first-steps" },
    h("h1", null, "Your clients"),
    h("p", null, "Nobody here yet. Two steps to your first conversation, and one to keep your account safe:"),
    h("ol", { class: "steps", "aria-label": "First steps" }, termsStep, inviteStep, recoveryStep),
  );
}
