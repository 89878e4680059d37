// The end of therapy, on screen: "Your account" (download your data, delete your account), the therapist's
// discharge confirmation, and the client's read-only conversation once the therapist ended the link.
import { h, announce, formatDateTime } from "../lib/dom.js";
import { dischargeClient, endedAt, eraseOwnAccount } from "../app/ending.js";
import { archiveHtml, buildArchive, download } from "../app/export.js";
import { displayNameCard } from "./names.js";

function errorText(e) {
  return e && e.message ? e.message : "Something went wrong. Try again.";
}

function exportSection(device) {
  const status = h("div", { "aria-live": "polite" });
  const stamp = () => new Date().toISOString().slice(0, 10);
  const run = (make) => async () => {
    status.replaceChildren(h("p", { class: "muted" }, "Preparing your data on this device…"));
    try {
      const archive = await buildArchive(device);
      make(archive);
      status.replaceChildren(h("p", { role: "status" }, "Your data was downloaded."));
    } catch (e) {
      status.replaceChildren(h("div", { class: "notice error", role: "alert" }, errorText(e)));
    }
  };
  const asJson = run((a) => download(`confidant-export-${stamp()}.json`, JSON.stringify(a, null, 2), "application/json"));
  const asPage = run((a) => download(`confidant-export-${stamp()}.html`, archiveHtml(a), "text/html"));
  return h(
    "section",
    { class: "card", "aria-labelledby": "export-title" },
    h("h2", { id: "export-title" }, "Download your data"),
    h("p", null, "Your conversations, the consents you signed and your security log, put together on this device (the server cannot read your messages). The page can be printed; the JSON file is for other programs."),
    h("div", { class: "row" }, h("button", { type: "button", onclick: asPage }, "Download a printable page"), h("button", { type: "button", class: "secondary", onclick: asJson }, "Download as JSON")),
    status,
  );
}

export function accountView(device, { extra = [] } = {}) {
  const status = h("div", { "aria-live": "polite" });
  const understood = h("input", { type: "checkbox", id: "erase-understood" });
  const erase = h("button", { type: "button", class: "danger", disabled: true }, "Delete my account");
  understood.addEventListener("change", () => (erase.disabled = !understood.checked));
  erase.addEventListener("click", async () => {
    erase.disabled = true;
    status.replaceChildren(h("p", { class: "muted" }, "Deleting your account…"));
    try {
      await eraseOwnAccount(device);
      announce("Your account was deleted");
    } catch (e) {
      erase.disabled = !understood.checked;
      status.replaceChildren(h("div", { class: "notice error", role: "alert" }, errorText(e)));
    }
  });
  const who = device.role === "therapist" ? "your clients" : "your therapist";
  const node = h(
    "div",
    { class: "page" },
    h(
      "section",
      { class: "card", "aria-labelledby": "account-title" },
      h("h1", { id: "account-title" }, "Your account"),
      h("p", { class: "muted" }, `Account ${device.me.account_id.slice(0, 8)} · ${device.role}`),
    ),
    displayNameCard(device),
    ...extra,
    exportSection(device),
    h(
      "section",
      { class: "card", "aria-labelledby": "erase-title" },
      h("h2", { id: "erase-title" }, "Delete your account"),
      h(
        "p",
        null,
        `The server deletes everything it holds about you: your devices and keys, messages waiting for delivery, your links with ${who}, your signed consents, sessions and attendance. `,
        "Its security log keeps its entries but can no longer tell which were yours. This cannot be undone, and this browser forgets your keys and conversations too.",
      ),
      h("div", { class: "row" }, understood, h("label", { for: "erase-understood" }, "I understand that my account and its data will be deleted for good.")),
      erase,
      status,
    ),
  );
  return { node };
}

export function dischargeView(device, clientId) {
  const name = device.contactName(clientId);
  const status = h("div", { "aria-live": "polite" });
  const end = h("button", { type: "button", class: "danger" }, `End therapy with ${name}`);
  end.addEventListener("click", async () => {
    end.disabled = true;
    try {
      await dischargeClient(device, clientId);
      announce(`Therapy with ${name} ended`);
      location.hash = "#/";
    } catch (e) {
      end.disabled = false;
      status.replaceChildren(h("div", { class: "notice error", role: "alert" }, errorText(e)));
    }
  });
  const node = h(
    "div",
    { class: "page" },
    h(
      "section",
      { class: "card", "aria-labelledby": "discharge-title" },
      h("h1", { id: "discharge-title" }, `End therapy with ${name}?`),
      h("p", null, `${name} is told at once. From then on neither of you can send messages to the other or join a session together. `,
        "Both of you keep the conversation on your own devices. To work together again you will need to send a new invitation."),
      h("div", { class: "row" }, end, h("a", { class: "button secondary", href: `#/chat/${clientId}` }, "Cancel")),
      status,
    ),
  );
  return { node };
}

/** The client's screen once the therapist ended the link: the conversation, read only, from this device. */
export function endedClientView(device, therapistId) {
  const list = h("div", { class: "messages", role: "log", "aria-label": "Messages", tabindex: "0" });
  device.messenger.conversation(therapistId).then((conv) => {
    list.replaceChildren(
      ...conv
        .filter((m) => m.dir === "in" || m.dir === "out")
        .map((m) => h("div", { class: ["msg", m.dir] }, h("div", { class: "bubble" }, m.body), h("div", { class: "meta" }, formatDateTime(m.at)))),
    );
  });
  const node = h(
    "div",
    { class: "page" },
    h(
      "section",
      { class: "card", "aria-labelledby": "ended-title" },
      h("h1", { id: "ended-title" }, "Your therapy here has ended"),
      h("p", { role: "status" }, `Your therapist ended your connection on ${formatDateTime(endedAt(device, therapistId))}. You can no longer send messages or join sessions. `,
        "Your conversation stays on this device, and only here."),
      h("a", { class: "button secondary", href: "#/account" }, "Your account and data"),
    ),
    h("section", { class: "card", "aria-label": "Your conversation" }, h("h2", null, "Your conversation"), list),
  );
  return { node };
}
