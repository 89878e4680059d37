// The join page checks the invitation before asking for a passphrase: which role it is for, and whether it can
// still be used (POST /invitations/check reveals nothing else). A used, withdrawn or expired link says so at
// once instead of after the passphrase was typed twice. If the check itself fails (offline), the form is shown:
// the server checks the invitation again when it is redeemed.
import { h } from "../lib/dom.js";

const ROLE_TEXT = {
  client: "This invitation is for a client account: a private, end-to-end encrypted space to write to your therapist and join your video sessions.",
  therapist: "This invitation is for a therapist account: you will write to your clients and hold video sessions here.",
  admin: "This invitation is for an administrator account of this Confidant server.",
};

/** Wrap the join screen's nodes (`[header, main]`): its form waits, hidden, for the check. */
export function invitationGate(device, code, nodes) {
  const main = nodes.find((n) => n.id === "main") || nodes[nodes.length - 1];
  const form = main.querySelector("form");
  if (!form) return nodes;
  const checking = h("div", { class: "card", role: "status" }, h("p", { class: "muted" }, "Checking your invitation…"));
  form.hidden = true;
  form.before(checking);
  const showForm = (role) => {
    checking.remove();
    if (role) form.querySelector("h1")?.after(h("p", { class: "notice info role-note", "data-testid": "invitation-role" }, ROLE_TEXT[role] || `This invitation is for a ${role} account.`));
    form.hidden = false;
    form.querySelector("input")?.focus();
  };
  device.api
    .post("/invitations/check", { invitation_code: code }, { auth: false })
    .then(({ valid, role }) => {
      if (valid) return showForm(role);
      const heading = h("h1", { tabindex: "-1" }, "This invitation can no longer be used");
      form.remove();
      checking.replaceWith(
        h(
          "div",
          { class: "card", role: "alert" },
          heading,
          h("p", null, "It was already used, withdrawn, or it expired. Ask the person who invited you for a new link."),
          h("p", { class: "muted small" }, "Nothing was created on this device."),
        ),
      );
      document.title = "Invitation no longer valid · Confidant";
      heading.focus();
    })
    .catch(() => showForm(null));
  return nodes;
}
