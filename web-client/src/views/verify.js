// Safety number: ONE number per contact, over the two account keys (docs/PROTOCOL.md §10), so it stays the
// same when either side adds or removes a device. Compare the 60 digits (in person or on a video session)
// or scan the other person's QR code; a match verifies their account key, which covers every device it
// certifies. While their key changed and waits for a decision, the number shown is the NEW key's.
import encodeQR from "qr";
import { h, announce } from "../lib/dom.js";
import { fromB64, fromHex, toHex } from "../lib/bytes.js";
import { safetyNumber, qrMatches } from "../crypto/fingerprint.js";
import { shownAccountKey } from "../app/trust.js";
import { qrScanner } from "./scan.js";

export function verifyView(device, accountId) {
  const c = device.contacts.get(accountId);
  const name = device.contactName(accountId);
  const theirKey = shownAccountKey(device, accountId);
  if (!c || !theirKey) return h("div", { class: "page" }, h("div", { class: "card" }, h("p", null, "No key is known for this person yet.")));
  const sn = safetyNumber(device.keys.account.public, fromHex(device.me.account_id), fromB64(theirKey), fromHex(accountId));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const scanner = qrScanner();
  const pending = c.st.keyChanged || c.st.mismatch;

  const markVerified = async () => {
    await device.acknowledgeKeyChange(accountId, true);
    status.replaceChildren(h("div", { class: "notice info" }, `${name} is marked as verified.`));
    announce(`${name} verified`);
  };

  const scan = async () => {
    const text = await scanner.start();
    if (text === null) {
      status.replaceChildren(h("div", { class: "notice error" }, "The camera is not available. Compare the numbers instead."));
      return;
    }
    const ok = /^[0-9A-F]+$/.test(text) && qrMatches(fromHex(text.toLowerCase()), sn.qr);
    if (ok) markVerified();
    else status.replaceChildren(h("div", { class: "notice error", role: "alert" }, "This code does not match. Do not share anything sensitive until you have checked with them."));
  };

  const node = h(
    "div",
    { class: "page" },
    h("h1", null, `Verify ${name}`),
    pending
      ? h("p", { class: "notice warn" }, `${name}'s security key changed. This is the number for their new key: nothing is sent to them until you verify it or accept it.`)
      : null,
    h("p", null, `If the numbers on your screen and ${name}'s are the same, nobody is in the middle of your conversation, on any of your devices or theirs. Compare them in person or on a video session, or scan their code.`),
    status,
    h(
      "div",
      { class: "card" },
      h("div", { class: "safety-grid", "aria-label": `Safety number: ${sn.groups.join(" ")}`, role: "img", "data-testid": "safety-number" }, sn.groups.map((g) => h("span", { "aria-hidden": "true" }, g))),
      h("div", { class: "qr" }, h("img", { src: encodeQR(toHex(sn.qr).toUpperCase(), "data-url", { ecc: "medium", scale: 4 }), alt: "QR code of this safety number" })),
    ),
    scanner.video,
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", onclick: markVerified }, "The numbers match"),
      h("button", { type: "button", class: "secondary", onclick: scan }, "Scan their code"),
      h("a", { class: "button secondary", href: device.role === "therapist" ? `#/chat/${accountId}` : "#/" }, "Back to conversation"),
    ),
  );
  return { node, cleanup: scanner.stop };
}
