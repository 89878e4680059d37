// Files in a conversation: the attach button, drag and drop, paste; upload rows with progress and cancel;
// file cards (name, type, size) with download progress and cancel; image thumbnails opening a larger view;
// clear errors (too large, quota, failed or tampered download). The crypto and HTTP are in app/files.js.
import "../attachments.css";
import { h, announce } from "../lib/dom.js";
import { Files, FileError, Transfer, formatSize } from "../app/files.js";
import { pointerFromWire } from "../app/file_pointer.js";

const perDevice = new WeakMap();

/** The device's file transfers; decrypted files are dropped (URLs revoked) when the device locks. */
export function filesOf(device) {
  let f = perDevice.get(device);
  if (!f) {
    f = new Files(device);
    perDevice.set(device, f);
    device.addEventListener("change", (e) => {
      if (e.detail.what !== "status" || device.status === "ready") return;
      for (const { url } of f.cache.values()) URL.revokeObjectURL(url);
      f.cache.clear();
    });
  }
  return f;
}

// The short label of a file card: the name's extension, else the subtype ("PDF", "PNG", "DOCX", "FILE").
function kindLabel(type, name = "") {
  const ext = /\.([A-Za-z0-9]{1,5})$/.exec(name);
  if (ext) return ext[1].toUpperCase();
  const sub = type.split("/")[1] || "";
  return sub && sub !== "octet-stream" ? sub.slice(0, 4).toUpperCase() : "FILE";
}

const SVG = "http://www.w3.org/2000/svg";
function paperclip() {
  const svg = document.createElementNS(SVG, "svg");
  for (const [k, v] of Object.entries({ viewBox: "0 0 24 24", width: "22", height: "22", fill: "none", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", focusable: "false" }))
    svg.setAttribute(k, v);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", "M21.4 11.05 12.2 20.24a6 6 0 0 1-8.49-8.49l9.2-9.19a4 4 0 0 1 5.65 5.66l-9.2 9.19a2 2 0 0 1-2.82-2.83l8.48-8.48");
  svg.appendChild(path);
  return svg;
}

function progressRow(transfer, verb) {
  const bar = h("progress", { max: "1", value: "0", "aria-label": `${verb} ${transfer.name}` });
  const pct = h("span", { class: "small muted transfer-pct" }, "0%");
  transfer.addEventListener("progress", () => {
    bar.value = transfer.progress;
    pct.textContent = `${Math.round(transfer.progress * 100)}%`;
  });
  transfer.addEventListener("resuming", () => (pct.textContent = "Connection lost, resuming…"));
  const cancel = h("button", { class: "ghost small", type: "button", "data-action": "cancel", onclick: () => transfer.cancel() }, "Cancel");
  return h("div", { class: "transfer-progress" }, bar, pct, cancel);
}

/** Composer controls: returns {button, input, area, attach(files)}; the chat view places them. */
export function attachControls(device, accountId, contactName) {
  const files = filesOf(device);
  const area = h("div", { class: "transfers", "aria-live": "polite" });
  const input = h("input", { type: "file", multiple: true, hidden: true, "data-testid": "file-input" });
  const button = h("button", { class: "ghost attach", type: "button", "aria-label": `Attach a file for ${contactName()}`, title: "Attach a file", onclick: () => input.click() }, paperclip());

  const upload = async (file) => {
    const transfer = new Transfer("upload", file.name || "pasted image", file.size);
    const row = h("div", { class: "transfer", "data-name": transfer.name }, h("span", { class: "transfer-name" }, `Sending ${transfer.name} (${formatSize(file.size)})`), progressRow(transfer, "Uploading"));
    area.appendChild(row);
    try {
      await files.send(accountId, file, transfer);
      row.remove();
      announce(`${transfer.name} sent.`);
    } catch (e) {
      const err = e instanceof FileError ? e : new FileError("failed", "The upload failed.");
      if (err.kind === "cancelled") {
        row.remove();
        announce("Upload cancelled.");
        return;
      }
      row.replaceChildren(
        h("div", { class: "notice warn small file-error", role: "alert", "data-kind": err.kind }, `${transfer.name}: ${err.message}`),
        h("button", { class: "ghost small", type: "button", onclick: () => row.remove() }, "Dismiss"),
      );
    }
  };
  const attach = (list) => {
    for (const file of list) upload(file);
  };
  input.addEventListener("change", () => {
    attach([...input.files]);
    input.value = "";
  });
  return { button, input, area, attach };
}

/** Drag and drop onto `zone`, paste into `field`. */
export function bindDropAndPaste(zone, field, attach) {
  zone.addEventListener("dragover", (e) => {
    if (![...(e.dataTransfer?.types || [])].includes("Files")) return;
    e.preventDefault();
    zone.classList.add("dropping");
  });
  zone.addEventListener("dragleave", (e) => {
    if (e.target === zone) zone.classList.remove("dropping");
  });
  zone.addEventListener("drop", (e) => {
    zone.classList.remove("dropping");
    const list = [...(e.dataTransfer?.files || [])];
    if (!list.length) return;
    e.preventDefault();
    attach(list);
  });
  field.addEventListener("paste", (e) => {
    const list = [...(e.clipboardData?.files || [])];
    if (!list.length) return;
    e.preventDefault();
    attach(list);
  });
}

function imageViewer(name, url) {
  const close = () => dialog.close();
  const dialog = h(
    "dialog",
    { class: "image-viewer", "aria-label": name },
    h("img", { src: url, alt: name }),
    h("div", { class: "row" }, h("a", { class: "button secondary small", href: url, download: name }, "Save"), h("button", { class: "small", type: "button", onclick: close }, "Close")),
  );
  dialog.addEventListener("close", () => dialog.remove());
  dialog.addEventListener("click", (e) => e.target === dialog && close());
  document.body.appendChild(dialog);
  dialog.showModal();
  return dialog;
}

/** The bubble content of a file message. */
export function fileCard(device, msg) {
  const files = filesOf(device);
  let p;
  try {
    p = pointerFromWire(msg.file);
  } catch {
    return h("div", { class: "notice warn small" }, "This file could not be read.");
  }
  const isImage = p.contentType.startsWith("image/");
  const status = h("div", { class: "file-status" });
  const info = h("div", { class: "file-info" }, h("span", { class: "file-name" }, p.name), h("span", { class: "file-meta small" }, `${kindLabel(p.contentType, p.name)} · ${formatSize(p.size)}`));

  const open = async () => {
    const hit = files.cached(p.blobId);
    if (hit) return hit;
    const transfer = new Transfer("download", p.name, p.size);
    status.replaceChildren(progressRow(transfer, "Downloading"));
    try {
      const got = await files.fetch(p, transfer);
      status.replaceChildren(h("a", { class: "button ghost small", href: got.url, download: p.name, "data-action": "save" }, "Save"));
      return got;
    } catch (e) {
      const err = e instanceof FileError ? e : new FileError("failed", "The download failed.");
      status.replaceChildren(err.kind === "cancelled" ? download : h("div", { class: "notice warn small file-error", role: "alert", "data-kind": err.kind }, err.message), err.kind === "cancelled" ? null : retry);
      return null;
    }
  };
  const saveFile = async () => {
    const got = await open();
    if (!got) return;
    const a = h("a", { href: got.url, download: p.name, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
  };
  const view = async () => {
    const got = await open();
    if (got) imageViewer(p.name, got.url);
  };
  const download = h("button", { class: "small", type: "button", "data-action": "download", onclick: isImage ? view : saveFile }, isImage ? "Open" : "Download");
  const retry = h("button", { class: "ghost small", type: "button", onclick: isImage ? view : saveFile }, "Try again");
  const hit = files.cached(p.blobId);
  status.replaceChildren(hit ? h("a", { class: "button ghost small", href: hit.url, download: p.name, "data-action": "save" }, "Save") : download);

  let thumb = null;
  if (isImage && p.thumbnail) {
    const url = URL.createObjectURL(new Blob([p.thumbnail], { type: "image/jpeg" }));
    thumb = h("button", { class: "file-thumb", type: "button", "aria-label": `Open image ${p.name}`, onclick: view }, h("img", { src: url, alt: `Preview of ${p.name}` }));
  } else {
    thumb = h("div", { class: "file-icon", "aria-hidden": "true" }, kindLabel(p.contentType, p.name));
  }
  return h("div", { class: "file-card", "data-blob": p.blobId }, thumb, h("div", { class: "file-body" }, info, status));
}
