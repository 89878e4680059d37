// Invite a client (therapist) or a therapist (admin): the link is shown once; the name typed for the person is
// kept in the account vault (app/names.js), so every device of the account shows it; the server never sees it.
import { h, announce, formatDateTime } from "../lib/dom.js";
import { copyButton } from "./accountcards.js";

export function inviteView(device) {
  const forTherapist = device.role === "admin";
  const label = h("input", { id: "invite-label", type: "text", autocomplete: "off", "aria-describedby": "invite-label-hint" });
  const result = h("div", { "aria-live": "polite" });
  const err = h("div", { class: "notice error", role: "alert", hidden: true });
  const list = h("ul", { class: "session-list" });
  const refresh = () =>
    device
      .invitations()
      .then((items) =>
        list.replaceChildren(
          ...items
            .slice()
            .reverse()
            .map((i) =>
              h(
                "li",
                { class: "session-item" },
                h("span", { class: "client-name" }, i.label || "Unnamed", h("span", { class: "client-sub" }, `Expires ${formatDateTime(i.expires_at)}`)),
                h("span", { class: i.used_at ? "pill live" : "pill" }, i.used_at ? "Joined" : "Pending"),
              ),
            ),
        ),
      )
      .catch(() => {});
  refresh();
  const submit = h("button", { type: "submit" }, "Create invitation link");
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (e) => {
        e.preventDefault();
        err.hidden = true;
        submit.disabled = true;
        try {
          const inv = await device.invite(label.value.trim());
          const base = inv.url && inv.url.includes("#/join/") ? new URL(inv.url.slice(inv.url.indexOf("#/join/")), location.href).href : `${location.origin}/#/join/${inv.code}`;
          // The fragment carries our account-key fingerprint (docs/PROTOCOL.md §18): the invitee checks the key
          // the server gives it against this, so its first contact with us is verified.
          const url = `${base}/${device.invitationFingerprint()}`;
          const copied = h("span", { class: "small muted", role: "status" });
          const copy = copyButton(url, copied, "Copy link");
          result.replaceChildren(
            h(
              "div",
              { class: "notice info" },
              h("p", null, h("strong", null, "Invitation ready. "), `Send this link to ${label.value.trim() || (forTherapist ? "the therapist" : "your client")} over a channel you trust. It works once and expires ${formatDateTime(inv.expires_at)}.`),
              h("div", { class: "link-box", "data-testid": "invite-link" }, url),
              h("div", { class: "row" }, copy, copied),
            ),
          );
          label.value = "";
          if (inv.nameError) result.append(h("div", { class: "notice warn", role: "alert" }, `The name was not saved: ${inv.nameError}`));
          announce("Invitation link created");
          refresh();
        } catch (e2) {
          err.textContent = e2.message;
          err.hidden = false;
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h1", null, forTherapist ? "Invite a therapist" : "Invite a client"),
    h("p", { class: "muted" }, "The name you enter is encrypted in your account's vault: your other devices show it, the server never sees it."),
    err,
    h(
      "div",
      { class: "field" },
      h("label", { for: "invite-label" }, forTherapist ? "Therapist's name" : "Client's name"),
      label,
      h("span", { class: "hint", id: "invite-label-hint" }, "Only you will see this name. At most 64 characters."),
    ),
    h("div", { class: "row end" }, submit),
    result,
  );
  return h("div", { class: "page" }, form, h("section", { class: "card", "aria-labelledby": "inv-list" }, h("h2", { id: "inv-list" }, "Invitations"), list));
}
