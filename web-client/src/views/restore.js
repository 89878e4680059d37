// "Restore with a recovery key" (#/restore, a browser with no account): after losing every device, the
// recovery key re-creates this browser as a device of the account (docs/PROTOCOL.md §22.5, app/restore.js).
import { h, announce } from "../lib/dom.js";
import { InvalidKey } from "../crypto/errors.js";
import { RecoveryIncomplete, restoreDevice } from "../app/restore.js";

const MIN_PASSPHRASE = 8;

const errorText = (e) =>
  e instanceof InvalidKey
    ? "That recovery key has a typo. Check each group of four characters."
    : e.code === "not_found"
      ? "That recovery key does not match any account. Check that it is your most recent recovery key."
      : e.code === "rate_limited"
        ? "Too many tries. Wait an hour, then try again."
        : e.code === "network"
          ? "The server cannot be reached. Check your connection and try again."
          : e instanceof RecoveryIncomplete
            ? e.message
            : e.message || "Something went wrong.";

export function restoreView(device, { frame, onDone }) {
  const err = h("div", { class: "notice error", role: "alert", hidden: true });
  const key = h("input", { id: "restore-key", type: "text", autocomplete: "off", spellcheck: "false", required: true, "aria-describedby": "restore-key-hint" });
  const pass = h("input", { id: "pass", type: "password", autocomplete: "new-password", required: true, minlength: MIN_PASSPHRASE, "aria-describedby": "pass-hint" });
  const pass2 = h("input", { id: "pass2", type: "password", autocomplete: "new-password", required: true });
  const submit = h("button", { type: "submit" }, "Restore my account");
  const busy = h("div", { class: "busy", hidden: true }, h("progress", { "aria-label": "Restoring" }), h("span", { class: "hint" }, "Restoring your keys…"));
  const showErr = (text) => {
    err.textContent = text;
    err.hidden = false;
  };
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (e) => {
        e.preventDefault();
        err.hidden = true;
        if (pass.value.length < MIN_PASSPHRASE) return showErr(`Choose a passphrase of at least ${MIN_PASSPHRASE} characters.`);
        if (pass.value !== pass2.value) return showErr("The two passphrases do not match.");
        submit.disabled = true;
        busy.hidden = false;
        announce("Restoring your account");
        try {
          await restoreDevice(device, key.value, pass.value);
          onDone();
        } catch (e2) {
          busy.hidden = true;
          submit.disabled = false;
          showErr(errorText(e2));
          key.focus();
        }
      },
    },
    h("h1", null, "Restore your account"),
    h("p", null, "Lost every device? Enter the recovery key you stored when you started. This browser becomes one of your devices again, with your notes and conversation history."),
    err,
    h("div", { class: "field" }, h("label", { for: "restore-key" }, "Recovery key"), key, h("span", { class: "hint", id: "restore-key-hint" }, "32 letters and digits, in groups of four.")),
    h("div", { class: "field" }, h("label", { for: "pass" }, "New passphrase for this browser"), pass, h("span", { class: "hint", id: "pass-hint" }, `At least ${MIN_PASSPHRASE} characters.`)),
    h("div", { class: "field" }, h("label", { for: "pass2" }, "Repeat the passphrase"), pass2),
    busy,
    h("div", { class: "row end" }, h("a", { class: "button secondary", href: "#/" }, "Cancel"), submit),
  );
  queueMicrotask(() => key.focus());
  return frame(form);
}
