// Screens before a device is unlocked: welcome, join with an invitation, unlock.
import { h, announce, nextTask } from "../lib/dom.js";
import { brand } from "./shell.js";
import { WrongPassphrase } from "../app/vault.js";

const MIN_PASSPHRASE = 8;

export function frame(...content) {
  return [
    h("header", { class: "topbar" }, brand()),
    h(
      "main",
      { id: "main", tabindex: "-1" },
      h(
        "div",
        { class: "page narrow" },
        h("div", { class: "intro", "aria-hidden": "true" }, h("div", { class: "brand-mark" }, "C"), h("p", null, "A private space for your therapy")),
        ...content,
      ),
    ),
  ];
}

function errorBox() {
  return h("div", { class: "notice error", role: "alert", hidden: true });
}

/** Shown while the passphrase is stretched (Argon2id, 0.5-2 s, in a Web Worker so this keeps moving). */
function busyBar(label) {
  return h("div", { class: "busy", hidden: true }, h("progress", { "aria-label": label }), h("span", { class: "hint" }, "Protecting your keys with your passphrase…"));
}

function showError(box, text) {
  box.textContent = text;
  box.hidden = false;
}

export function welcomeView() {
  return frame(
    h(
      "div",
      { class: "card" },
      h("h1", null, "Welcome to Confidant"),
      h("p", null, "A private space to talk with your therapist. Messages and video are end-to-end encrypted: they are readable only on your devices and theirs, never by the server."),
      h("p", { class: "muted" }, "To begin, open the invitation link your therapist sent you."),
      h(
        "div",
        { class: "row" },
        h("a", { class: "button secondary", href: "#/link" }, "Add this browser to an existing account"),
        h("a", { class: "button secondary", href: "#/restore" }, "Restore with a recovery key"),
      ),
    ),
  );
}

export function joinView(device, code, { onDone, fingerprint = null }) {
  const err = errorBox();
  const pass = h("input", { id: "pass", type: "password", autocomplete: "new-password", required: true, minlength: MIN_PASSPHRASE, "aria-describedby": "pass-hint" });
  const pass2 = h("input", { id: "pass2", type: "password", autocomplete: "new-password", required: true });
  const submit = h("button", { type: "submit" }, "Create my secure space");
  const busy = busyBar("Creating your keys");
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (e) => {
        e.preventDefault();
        err.hidden = true;
        if (pass.value.length < MIN_PASSPHRASE) return showError(err, `Choose a passphrase of at least ${MIN_PASSPHRASE} characters.`);
        if (pass.value !== pass2.value) return showError(err, "The two passphrases do not match.");
        submit.disabled = true;
        submit.textContent = "Creating your keys…";
        busy.hidden = false;
        announce("Creating your keys");
        try {
          // The click ends here and the busy state paints; making the keys is a task of its own (a long task
          // on a slow phone otherwise).
          await nextTask();
          await device.join(code, pass.value, fingerprint);
          onDone();
        } catch (e2) {
          busy.hidden = true;
          submit.disabled = false;
          submit.textContent = "Create my secure space";
          showError(err, e2.code === "invitation_invalid" ? "This invitation link is no longer valid. Ask for a new one." : e2.message || "Something went wrong.");
        }
      },
    },
    h("h1", null, "You have been invited to Confidant"),
    h("p", null, "Your encryption keys are created here, in this browser. Choose a passphrase to protect them on this device. It never leaves this browser and cannot be recovered, so keep it somewhere safe."),
    err,
    h("div", { class: "field" }, h("label", { for: "pass" }, "Passphrase"), pass, h("span", { class: "hint", id: "pass-hint" }, `At least ${MIN_PASSPHRASE} characters. A short sentence works well.`)),
    h("div", { class: "field" }, h("label", { for: "pass2" }, "Repeat the passphrase"), pass2),
    busy,
    h("div", { class: "row end" }, submit),
  );
  queueMicrotask(() => pass.focus());
  return frame(form);
}

export function existingDeviceView(device) {
  return frame(
    h(
      "div",
      { class: "card" },
      h("h1", null, "This browser already has a Confidant account"),
      h("p", null, "Unlock it to continue. To use this invitation instead, remove the account stored in this browser first."),
      h("div", { class: "row" }, h("a", { class: "button", href: "#/" }, "Unlock")),
    ),
  );
}

export function unlockView(device, { onDone }) {
  const err = errorBox();
  const pass = h("input", { id: "unlock-pass", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Unlock");
  const busy = busyBar("Unlocking");
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (e) => {
        e.preventDefault();
        err.hidden = true;
        submit.disabled = true;
        submit.textContent = "Unlocking…";
        busy.hidden = false;
        announce("Unlocking");
        try {
          await device.unlock(pass.value);
          onDone();
        } catch (e2) {
          busy.hidden = true;
          submit.disabled = false;
          submit.textContent = "Unlock";
          showError(err, e2 instanceof WrongPassphrase ? "That passphrase does not unlock this device. Try again." : e2.message);
          pass.select();
        }
      },
    },
    h("h1", null, "Unlock Confidant"),
    device.lockReason === "idle" ? h("p", { class: "notice info", role: "status" }, "Locked because this browser was not used for a while.") : null,
    h("p", { class: "muted" }, "Your keys and conversations on this device are encrypted with your passphrase."),
    err,
    h("div", { class: "field" }, h("label", { for: "unlock-pass" }, "Passphrase"), pass),
    busy,
    h("div", { class: "row end" }, submit),
    h(
      "details",
      { class: "help" },
      h("summary", null, "Forgot your passphrase?"),
      h("p", null, "It cannot be recovered: nobody else ever had it, not even the server. You can erase this browser's copy and ask for a new invitation; the messages stored here will be gone."),
      h("p", null, "Without the passphrase this browser cannot sign out of your account by itself: remove it from the Devices screen of another of your devices, or ask your administrator. Its keys stay encrypted until then."),
      h(
        "button",
        {
          type: "button",
          class: "danger small",
          onclick: async () => {
            if (!window.confirm("Erase the account and all messages stored in this browser? This cannot be undone.")) return;
            await device.forget();
          },
        },
        "Erase this browser's copy",
      ),
    ),
  );
  queueMicrotask(() => pass.focus());
  return frame(form);
}

// Who to tell about a removal nobody expected: a therapist has no therapist to tell.
const REVOKED_WHO = {
  client: "tell your therapist or your practice's administrator.",
  therapist: "tell your practice's administrator, and check your other devices on their Devices page.",
  admin: "check your other devices on their Devices page and the server's audit log.",
};

export function revokedView(device) {
  return frame(
    h(
      "div",
      { class: "card", role: "alert" },
      h("h1", null, "This device was removed"),
      h("p", null, `It is no longer linked to your account, so it cannot send or receive messages. If you did not remove it, ${REVOKED_WHO[device.role] || REVOKED_WHO.therapist}`),
      h("p", { class: "muted" }, "The conversations stored in this browser are still encrypted with your passphrase. Remove them when you no longer need them."),
      h("div", { class: "row end" }, h("button", { type: "button", class: "danger", onclick: () => device.forget() }, "Remove local data")),
    ),
  );
}
