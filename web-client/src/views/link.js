// Linking screens (docs/PROTOCOL.md §17). On the NEW browser: passphrase, then a code + QR to enter on an
// existing device, then the comparison string to confirm. On an EXISTING device (Devices screen): enter or
// scan the code, compare, approve. Nothing is issued until the person confirmed the strings are equal.
import encodeQR from "qr";
import "./trust.css";
import { h, announce, formatDateTime } from "../lib/dom.js";
import { showComparison } from "../crypto/link.js";
import { ready } from "../crypto/primitives.js";
import { NewDeviceLink, ApprovingLink, LinkCancelled } from "../app/linking.js";
import { qrScanner } from "./scan.js";

const MIN_PASSPHRASE = 8;

const errorText = (e) =>
  e.code === "invitation_invalid"
    ? "This link request expired or was cancelled. Start again."
    : e.code === "network"
      ? "The server cannot be reached. Check your connection and start again."
      : e.name === "BadCertificate" || e.name === "DecryptionFailed"
        ? "The approval did not verify: this browser was not added. Start again."
        : e.message || "Something went wrong.";

/** The new browser's side; `frame` wraps the content in the page frame of the onboarding screens. */
export function newDeviceLinkView(device, { frame, onDone }) {
  const box = h("div", { class: "card" });
  const err = h("div", { class: "notice error", role: "alert", hidden: true });
  let flow = null;
  const fail = (e) => {
    if (e instanceof LinkCancelled) return;
    err.textContent = errorText(e);
    err.hidden = false;
    box.replaceChildren(h("h1", null, "This browser was not added"), err, h("div", { class: "row" }, h("a", { class: "button", href: "#/" }, "Start again")));
  };

  const pass = h("input", { id: "pass", type: "password", autocomplete: "new-password", required: true, minlength: MIN_PASSPHRASE, "aria-describedby": "pass-hint" });
  const pass2 = h("input", { id: "pass2", type: "password", autocomplete: "new-password", required: true });
  const submit = h("button", { type: "submit" }, "Continue");
  const form = h(
    "form",
    {
      onsubmit: async (e) => {
        e.preventDefault();
        err.hidden = true;
        if (pass.value.length < MIN_PASSPHRASE) return showErr(`Choose a passphrase of at least ${MIN_PASSPHRASE} characters.`);
        if (pass.value !== pass2.value) return showErr("The two passphrases do not match.");
        submit.disabled = true;
        const passphrase = pass.value;
        try {
          await ready(); // libsodium may not be loaded yet on this first screen
          flow = await new NewDeviceLink().start();
        } catch (e2) {
          submit.disabled = false;
          return showErr(errorText(e2));
        }
        showCode(passphrase);
      },
    },
    h("h1", null, "Add this browser to your account"),
    h("p", null, "You will need a device where you already use Confidant. First choose a passphrase to protect your keys in this browser: it never leaves it and cannot be recovered."),
    err,
    h("div", { class: "field" }, h("label", { for: "pass" }, "Passphrase"), pass, h("span", { class: "hint", id: "pass-hint" }, `At least ${MIN_PASSPHRASE} characters.`)),
    h("div", { class: "field" }, h("label", { for: "pass2" }, "Repeat the passphrase"), pass2),
    h("div", { class: "row end" }, submit),
  );
  const showErr = (text) => {
    err.textContent = text;
    err.hidden = false;
  };
  box.replaceChildren(form);

  const cancelButton = () =>
    h("button", { type: "button", class: "secondary", onclick: () => { flow.cancel(); location.hash = "#/"; } }, "Cancel");

  const showCode = async (passphrase) => {
    const plain = flow.code.replace(/ /g, "");
    box.replaceChildren(
      h("h1", null, "Approve this browser from your other device"),
      h("p", null, "On a device where you are signed in, open Devices, choose “Link a new device”, and enter or scan this code."),
      h("div", { class: "link-code", "data-testid": "link-code", "aria-label": `Link code: ${flow.code}` }, flow.code),
      h("div", { class: "qr" }, h("img", { src: encodeQR(plain, "data-url", { ecc: "medium", scale: 4 }), alt: "QR code of the link code" })),
      h("p", { class: "muted", role: "status" }, `Waiting for your other device… The code works once, until ${formatDateTime(flow.expiresAt)}.`),
      h("div", { class: "row" }, cancelButton()),
    );
    announce("Link code shown");
    let comparison;
    try {
      comparison = await flow.waitForOffer();
    } catch (e) {
      return fail(e);
    }
    showCompare(comparison, passphrase);
  };

  const showCompare = (comparison, passphrase) => {
    const confirm = h("button", { type: "button" }, "Both show the same number");
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      box.replaceChildren(h("h1", null, "Waiting for approval"), h("p", { role: "status" }, "Confirm on your other device too. This browser is added as soon as it approves."), h("div", { class: "row" }, cancelButton()));
      announce("Waiting for approval");
      try {
        const keys = await flow.waitForApproval();
        await device.registerLinked(keys, flow.linkId, passphrase);
        onDone();
      } catch (e) {
        fail(e);
      }
    });
    box.replaceChildren(
      h("h1", null, "Compare this number"),
      h("p", null, "Your other device shows a number too. Add this browser only if both numbers are the same."),
      h("div", { class: "comparison", "data-testid": "link-comparison", role: "img", "aria-label": `Comparison number ${showComparison(comparison)}` }, showComparison(comparison)),
      h(
        "div",
        { class: "row" },
        confirm,
        h("button", { type: "button", class: "secondary", onclick: () => { flow.cancel(); fail(new Error("You cancelled because the numbers differ. Nothing was shared.")); } }, "The numbers differ"),
      ),
    );
    announce(`Compare this number: ${showComparison(comparison)}`);
  };

  queueMicrotask(() => pass.focus());
  return frame(box);
}

/** The existing device's side: a section of the Devices screen. */
export function approveLinkSection(device) {
  const body = h("div");
  const err = h("div", { class: "notice error", role: "alert", hidden: true });
  const showErr = (text) => {
    err.textContent = text;
    err.hidden = false;
  };
  const scanner = qrScanner();

  const start = () => {
    err.hidden = true;
    const input = h("input", { id: "link-code-input", type: "text", autocomplete: "off", spellcheck: "false", "aria-describedby": "link-code-hint" });
    const go = h("button", { type: "submit" }, "Continue");
    const scan = h("button", { type: "button", class: "secondary" }, "Scan the code");
    scan.addEventListener("click", async () => {
      const text = await scanner.start();
      if (text) {
        input.value = text;
        form.requestSubmit();
      } else showErr("The camera is not available. Type the code instead.");
    });
    const form = h(
      "form",
      {
        onsubmit: async (e) => {
          e.preventDefault();
          err.hidden = true;
          let flow;
          try {
            flow = new ApprovingLink(device, input.value);
          } catch {
            return showErr("This is not a valid link code. Check it and type it again.");
          }
          go.disabled = true;
          try {
            const comparison = await flow.offer();
            compare(flow, comparison);
          } catch (e2) {
            go.disabled = false;
            showErr(errorText(e2));
          }
        },
      },
      h("div", { class: "field" }, h("label", { for: "link-code-input" }, "Code shown on the new device"), input, h("span", { class: "hint", id: "link-code-hint" }, "On the new browser, open this site and choose “Add this browser to an existing account”.")),
      scanner.video,
      h("div", { class: "row end" }, scan, go),
    );
    body.replaceChildren(form);
  };

  const compare = (flow, comparison) => {
    const approve = h("button", { type: "button" }, "Same number: approve");
    approve.addEventListener("click", async () => {
      approve.disabled = true;
      try {
        await flow.approve();
      } catch (e) {
        approve.disabled = false;
        return showErr(errorText(e));
      }
      body.replaceChildren(
        h("div", { class: "notice info", role: "status" }, "Approved. The new device finishes adding itself; the people you talk to will see that you added a device."),
        h("button", { type: "button", class: "secondary", onclick: start }, "Link another device"),
      );
      announce("New device approved");
    });
    body.replaceChildren(
      h("p", null, "The new device shows a number. Approve only if it is the same as this one."),
      h("div", { class: "comparison", "data-testid": "link-comparison", role: "img", "aria-label": `Comparison number ${showComparison(comparison)}` }, showComparison(comparison)),
      h("div", { class: "row link-actions" }, approve, h("button", { type: "button", class: "secondary", onclick: () => { flow.cancel(); start(); } }, "Cancel")),
    );
    announce(`Compare this number: ${showComparison(comparison)}`);
  };

  start();
  const node = h(
    "section",
    { class: "card", "aria-labelledby": "link-title" },
    h("h2", { id: "link-title" }, "Link a new device"),
    h("p", { class: "muted" }, "A new device can join your account only with your approval from here: it receives your account key, sealed to it, after you compare a number on both screens."),
    err,
    body,
  );
  return { node, cleanup: () => scanner.stop() };
}
