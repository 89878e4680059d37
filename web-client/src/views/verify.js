// Safety number: compare the 60 digits (in person or on a call) or scan the other person's QR code.
import encodeQR from "qr";
import { h, announce } from "../lib/dom.js";
import { fromB64, fromHex, toHex } from "../lib/bytes.js";
import { safetyNumber, qrMatches } from "../crypto/fingerprint.js";

export function verifyView(device, accountId) {
  const c = device.contacts.get(accountId);
  const name = device.contactName(accountId);
  if (!c || !c.devices.length) return h("div", { class: "page" }, h("div", { class: "card" }, h("p", null, "No keys are known for this person yet.")));
  const ownKey = device.keys.identity.public;
  // One safety number per device of theirs (usually one).
  const numbers = c.devices.map((d) => ({ device: d, sn: safetyNumber(ownKey, fromHex(device.me.account_id), fromB64(d.identity_key), fromHex(accountId)) }));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const video = h("video", { class: "scan", muted: true, playsinline: true, hidden: true, "aria-label": "Camera preview" });
  let stream = null;

  const markVerified = async () => {
    await device.acknowledgeKeyChange(accountId, true);
    status.replaceChildren(h("div", { class: "notice info" }, `${name} is marked as verified.`));
    announce(`${name} verified`);
  };

  const stopScan = () => {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.hidden = true;
  };

  const scan = async () => {
    const { default: decodeQR } = await import("qr/decode.js");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true });
    } catch {
      status.replaceChildren(h("div", { class: "notice error" }, "The camera is not available. Compare the numbers instead."));
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const tick = () => {
      if (!stream) return;
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      if (canvas.width) {
        ctx.drawImage(video, 0, 0);
        const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
        let text = null;
        try {
          text = decodeQR({ width: img.width, height: img.height, data: img.data });
        } catch {
          text = null;
        }
        if (text) {
          stopScan();
          const ok = numbers.some(({ sn }) => /^[0-9A-F]+$/.test(text) && qrMatches(fromHex(text.toLowerCase()), sn.qr));
          if (ok) markVerified();
          else status.replaceChildren(h("div", { class: "notice error", role: "alert" }, "This code does not match. Do not share anything sensitive until you have checked with them."));
          return;
        }
      }
      requestAnimationFrame(tick);
    };
    tick();
  };

  const cards = numbers.map(({ device: d, sn }) =>
    h(
      "div",
      { class: "card" },
      numbers.length > 1 ? h("h3", null, `Device ${d.device_id.slice(0, 8)}`) : null,
      h("div", { class: "safety-grid", "aria-label": `Safety number: ${sn.groups.join(" ")}`, role: "img", "data-testid": "safety-number" }, sn.groups.map((g) => h("span", { "aria-hidden": "true" }, g))),
      h("div", { class: "qr" }, h("img", { src: encodeQR(toHex(sn.qr).toUpperCase(), "data-url", { ecc: "medium", scale: 4 }), alt: "QR code of this safety number" })),
    ),
  );
  const node = h(
    "div",
    { class: "page" },
    h("h1", null, `Verify ${name}`),
    h("p", null, `If the numbers on your screen and ${name}'s are the same, nobody is in the middle of your conversation. Compare them in person or on a video session, or scan their code.`),
    status,
    ...cards,
    video,
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", onclick: markVerified }, "The numbers match"),
      h("button", { type: "button", class: "secondary", onclick: scan }, "Scan their code"),
      h("a", { class: "button secondary", href: device.role === "therapist" ? `#/chat/${accountId}` : "#/" }, "Back to conversation"),
    ),
  );
  return { node, cleanup: stopScan };
}
