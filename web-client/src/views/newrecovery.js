// Right after an account is created in this browser (every role, views/onboarding.js then main.js): the vault
// key is made and the recovery key shown once, with Download and Print, before anything else. With it the
// person restores the account after losing every device (#/restore, docs/PROTOCOL.md §22.4-22.5).
import { h, announce } from "../lib/dom.js";
import { ensureVaultKey } from "../app/vault_key.js";
import { vaultRecords } from "../app/vault_records.js";
import { recoveryKeyCard } from "./recoverykey.js";

// Where a new one is made later.
const LATER = {
  client: "You can make a new one later on the Account screen; the old one then stops working.",
  therapist: "You can make a new one later on the Account screen; the old one then stops working.",
  admin: "You can make a new one later on the dashboard (Recovery key); the old one then stops working.",
};

async function makeKey(device) {
  if (!(await ensureVaultKey(device))) throw new Error("vault locked");
  const text = await vaultRecords(device).createRecoveryKey();
  device.history && device.history.start(); // the vault is new: start keeping the history in it
  return text;
}

/** The screen; `onDone` when the person has saved it (or chose to make it later on the Account screen). */
export function newRecoveryKeyView(device, { frame, onDone }) {
  // Made once per account creation: a re-render of this screen shows the same key, never draws a second one.
  if (!device.firstRecoveryKey) device.firstRecoveryKey = makeKey(device);
  const page = h("div", { class: "card" }, h("h1", null, "Your recovery key"), h("p", { role: "status" }, "Making your recovery key…"));
  device.firstRecoveryKey.then(
    (text) => {
      announce("Your recovery key is ready");
      page.replaceWith(recoveryKeyCard(text, onDone, { first: true, later: LATER[device.role] }));
    },
    () => {
      device.firstRecoveryKey = null; // "Try again" draws a new one
      page.replaceChildren(
        h("h1", null, "Your recovery key"),
        h("div", { class: "notice error", role: "alert" }, "Your recovery key could not be made: the server cannot be reached. Your account is created."),
        h("div", { class: "row" },
          h("button", { type: "button", onclick: () => page.replaceWith(newRecoveryKeyView(device, { frame: (x) => [x], onDone })[0]) }, "Try again"),
          h("button", { type: "button", class: "secondary", onclick: onDone }, device.role === "admin" ? "Make it later on the dashboard" : "Make it later on the Account screen")),
      );
    },
  );
  return frame(page);
}
