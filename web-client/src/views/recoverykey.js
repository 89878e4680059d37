// "Recovery key" on the Account screen: when the current one was made, and making a new one (shown once,
// with Download and Print; the old one stops working at once: docs/PROTOCOL.md §22.4). With it, a person
// who lost every device restores the account, notes and history in a fresh browser (#/restore).
import { h, announce, formatDateTime } from "../lib/dom.js";
import { vaultRecords, VaultLocked } from "../app/vault_records.js";
import "../notes.css";

/** The key, shown once: Download (a text file made here), Print, and "stored". `first`: the key made with the
 *  account (views/newrecovery.js), a page of its own with nothing replaced; `later`: where a new one is made. */
export function recoveryKeyCard(text, onStored, { first = false, later = null } = {}) {
  const file = new Blob([`Confidant recovery key\n\n${text}\n\nKeep it somewhere safe and private. With it you can restore your account, notes and conversation history on a new device if you lose every device.\n`], { type: "text/plain" });
  const url = URL.createObjectURL(file);
  const stored = h("button", { type: "button", onclick: () => { URL.revokeObjectURL(url); onStored(); } }, first ? "I have saved it" : "I have stored it safely");
  return h(
    "div",
    { class: first ? "card recovery" : "recovery", "aria-labelledby": "new-recovery-title" },
    first ? h("h1", { id: "new-recovery-title" }, "Your recovery key") : h("h3", { id: "new-recovery-title" }, "Your new recovery key"),
    first
      ? h("p", null, "If you lose every device, this key restores your account, your conversations and your notes on a new browser. Nobody else has it, not even the server, and it is shown only now: download or print it and keep it somewhere safe and private.")
      : h("p", null, "It is shown only now: download or print it and keep it somewhere safe. Your previous recovery key no longer works."),
    h("p", { class: "recovery-key", "data-testid": "recovery-key" }, h("code", null, text)),
    later ? h("p", { class: "small muted" }, later) : null,
    h(
      "div",
      { class: "row" },
      h("a", { class: "button secondary", href: url, download: "confidant-recovery-key.txt" }, "Download"),
      h("button", { type: "button", class: "secondary", onclick: () => window.print() }, "Print"),
      stored,
    ),
  );
}

export function recoveryKeySection(device) {
  const vr = vaultRecords(device);
  const state = h("p", { "aria-live": "polite" }, "Checking your recovery key…");
  const body = h("div");
  const err = h("div", { "aria-live": "assertive" });
  const make = h("button", { type: "button", class: "secondary" }, "Make a new recovery key");
  const confirm = h("div", { class: "row", hidden: true },
    h("button", { type: "button", onclick: () => create() }, "Yes, replace my recovery key"),
    h("button", { type: "button", class: "secondary", onclick: () => { confirm.hidden = true; make.hidden = false; } }, "Cancel"));

  const refresh = async () => {
    try {
      const got = await device.api.get("/recovery");
      state.textContent = `Your current recovery key was made on ${formatDateTime(got.created_at)}.`;
      make.textContent = "Make a new recovery key";
    } catch (e) {
      if (e.code !== "not_found") return void (state.textContent = "The server cannot be reached right now.");
      state.textContent = "You have no recovery key yet. Without one, losing every device means losing your account.";
      make.textContent = "Make a recovery key";
    }
  };
  make.addEventListener("click", () => {
    if (make.textContent === "Make a recovery key") return create();
    make.hidden = true;
    confirm.hidden = false;
    confirm.querySelector("button").focus();
  });
  const create = async () => {
    confirm.hidden = true;
    err.replaceChildren();
    try {
      await vr.createKeyIfNew();
      const text = await vr.createRecoveryKey();
      announce("New recovery key made");
      body.replaceChildren(recoveryKeyCard(text, () => { body.replaceChildren(); make.hidden = false; make.focus(); }));
      device.history && device.history.start(); // the vault may be new: start keeping the history in it
      refresh();
    } catch (e) {
      make.hidden = false;
      err.replaceChildren(
        h("div", { class: "notice error", role: "alert" }, e instanceof VaultLocked ? "This device does not have your vault key. Make the recovery key on a device that shows your notes." : "The recovery key was not made. Try again."),
      );
    }
  };
  refresh();
  return h(
    "section",
    { class: "card", "aria-labelledby": "recovery-title" },
    h("h2", { id: "recovery-title" }, "Recovery key"),
    h("p", null, "If you lose every device, your recovery key restores your account, your notes and your conversation history on a new browser. Only you hold it: the server cannot read or reset it."),
    state,
    err,
    make,
    confirm,
    body,
  );
}
