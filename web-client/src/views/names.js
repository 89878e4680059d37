// Names on screen (app/names.js): the display name card of "Your account" (sent end to end to contacts) and
// the therapist's rename screen for a client (kept in the account vault, shown on every device).
import { h } from "../lib/dom.js";
import { MAX_NAME_CHARS } from "../crypto/limits.js";

function nameForm({ id, label, hint, value, button, save }) {
  const input = h("input", { id, type: "text", autocomplete: "off", value: value || "", "aria-describedby": `${id}-hint`, dir: "auto" });
  const status = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, button);
  const form = h(
    "form",
    {
      onsubmit: async (e) => {
        e.preventDefault();
        submit.disabled = true;
        status.replaceChildren();
        try {
          const text = await save(input.value.trim());
          status.replaceChildren(h("p", { role: "status" }, text)); // a live region: read out once
        } catch (err) {
          status.replaceChildren(h("div", { class: "notice error", role: "alert" }, err.message));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("div", { class: "field" }, h("label", { for: id }, label), input, h("span", { class: "hint", id: `${id}-hint` }, hint)),
    h("div", { class: "row" }, submit),
    status,
  );
  return { form, input };
}

/** "Display name": this account's display name, sent end to end to its contacts. */
export function displayNameCard(device) {
  if (device.role !== "therapist" && device.role !== "client") return null;
  const who = device.role === "therapist" ? "your clients" : "your therapist";
  const { form, input } = nameForm({
    id: "display-name",
    label: "Your name",
    hint: `Shown to ${who}, sent end to end: the server never sees it. At most ${MAX_NAME_CHARS} characters.`,
    value: device.names.displayName(),
    button: "Save name",
    save: async (name) => {
      await device.names.setDisplayName(name);
      return `Saved. ${who[0].toUpperCase()}${who.slice(1)} will see “${name}”.`;
    },
  });
  // The vault may still be syncing when the screen opens: show the name once it is known.
  const fill = (e) => {
    if (e.detail.what !== "contacts") return;
    if (!input.isConnected && input.dataset.shown) return device.removeEventListener("change", fill); // screen left
    input.dataset.shown = "1";
    if (!input.value && device.names.displayName()) input.value = device.names.displayName();
  };
  device.addEventListener("change", fill);
  return h("section", { class: "card", "aria-labelledby": "display-name-title" }, h("h2", { id: "display-name-title" }, "Display name"), form);
}

/** The therapist's own name for a client: it wins over the name the client chose, on every device. */
export function renameView(device, accountId) {
  const chose = device.names.theirName(accountId);
  const { form } = nameForm({
    id: "contact-name",
    label: "Name",
    hint: `Only you see this name (encrypted in your account's vault).${chose ? ` They call themselves “${chose}”.` : ""} At most ${MAX_NAME_CHARS} characters.`,
    value: device.names.ownName(accountId) || "",
    button: "Save name",
    save: async (name) => {
      await device.names.setContactName(accountId, name);
      return `Saved: “${name}”.`;
    },
  });
  const node = h(
    "div",
    { class: "page" },
    h("div", { class: "row" }, h("a", { class: "button ghost small", href: `#/chat/${accountId}` }, "‹ Back to the conversation")),
    h("section", { class: "card" }, h("h1", null, `Rename ${device.contactName(accountId)}`), form),
  );
  return { node };
}
