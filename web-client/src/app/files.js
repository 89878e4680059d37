// Files and images end to end (docs/PROTOCOL.md section 11): encrypt in the browser with a fresh key
// (crypto/attachments.js), upload the opaque blob with progress and cancel, send the pointer inside an
// encrypted message; download with progress and cancel, verify the digest, and only then show or save it.
// Decrypted files are kept in memory for this page only (object URLs), never written to storage.
import * as attachments from "../crypto/attachments.js";
import { MAX_THUMBNAIL_BYTES } from "../crypto/limits.js";
import { concat, u64be } from "../lib/bytes.js";
import { ApiError } from "./api.js";
import { checkPointer, safeContentType, safeFileName } from "./file_pointer.js";

export class FileError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // too_large | quota | network | cancelled | gone | tampered | failed
  }
}

const MB = 1024 * 1024;
const RESUME_ATTEMPTS = 5; // a cut download is resumed this many times before it fails
const RESUME_WAIT_MS = 1000; // wait before the n-th resume: n x this (a flaky phone connection)
const CANCEL_WAIT_MS = 30_000; // a Cancel after the last byte waits this long for the answer, to delete the blob
export const formatSize = (n) => (n >= MB ? `${(n / MB).toFixed(1)} MB` : n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} bytes`);

/** One upload or download in flight: progress (0..1) and cancel. */
export class Transfer extends EventTarget {
  constructor(kind, name, size) {
    super();
    this.kind = kind;
    this.name = name;
    this.size = size;
    this.progress = 0;
    this.controller = new AbortController();
  }
  cancel() {
    this.controller.abort();
  }
  _progress(fraction) {
    this.progress = Math.max(0, Math.min(1, fraction));
    this.dispatchEvent(new Event("progress"));
  }
}

const cancelledUpload = () => new FileError("cancelled", "Upload cancelled.");

function mapApiError(e, what) {
  if (e instanceof FileError) return e;
  if (e instanceof ApiError) {
    if (e.code === "payload_too_large")
      return new FileError("too_large", `This file is too large to send. The limit is ${formatSize(Number(e.details.limit) || 0)}.`);
    if (e.code === "quota_exceeded")
      return new FileError("quota", `Your file storage is full (${formatSize(Number(e.details.used_bytes) || 0)} in use). Space is freed once files are received or expire.`);
    if (e.code === "not_found") return new FileError("gone", "This file is no longer on the server: files are deleted once received on every device, or when they expire.");
    if (e.code === "network") return new FileError("network", `The ${what} failed: the server cannot be reached. Try again.`);
    return new FileError("failed", `The ${what} failed: ${e.message}`);
  }
  return new FileError("failed", `The ${what} failed.`);
}

/** A JPEG preview of at most MAX_THUMBNAIL_BYTES, or null when the browser cannot decode the image. */
export async function makeThumbnail(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return null;
  }
  try {
    for (const edge of [320, 200, 120]) {
      const scale = Math.min(1, edge / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      for (const quality of [0.8, 0.6, 0.4]) {
        const blob = await new Promise((r) => canvas.toBlob(r, "image/jpeg", quality));
        if (blob && blob.size <= MAX_THUMBNAIL_BYTES) return new Uint8Array(await blob.arrayBuffer());
      }
    }
    return null;
  } finally {
    bitmap.close();
  }
}

export class Files {
  constructor(device) {
    this.d = device;
    this.cache = new Map(); // blob_id -> {url, data}: verified plaintext, this page only
    this.transfers = new Map(); // blob_id or upload id -> Transfer
  }

  /** Encrypt and upload `file` (a File or Blob) for `to`, then send the pointer. Throws FileError. */
  async send(to, file, transfer) {
    const name = safeFileName(file.name || "file");
    const contentType = safeContentType(file.type);
    try {
      if (file.size > attachments.MAX_ATTACHMENT_BYTES) throw new FileError("too_large", `This file is too large to send. The limit is ${formatSize(attachments.MAX_ATTACHMENT_BYTES)}.`);
      // Checked here for a clear answer before encrypting; the server enforces both limits anyway.
      const limits = await this.d.api.get("/blobs/usage").catch(() => null);
      const blobSize = attachments.encryptedSize(file.size);
      if (limits && blobSize > limits.max_blob_bytes)
        throw new FileError("too_large", `This file is too large to send. The limit is ${formatSize(limits.max_blob_bytes)}.`);
      if (limits && limits.used_bytes + blobSize > limits.quota_bytes)
        throw mapApiError(new ApiError(413, "quota_exceeded", "", { used_bytes: limits.used_bytes }), "upload");
      const data = new Uint8Array(await file.arrayBuffer());
      const thumbnail = contentType.startsWith("image/") ? await makeThumbnail(file) : null;
      const { blob, pointer } = attachments.encrypt(data);
      const { blob_id: blobId } = await this._upload(to, blob, transfer);
      if (transfer.controller.signal.aborted) {
        // Cancelled after the upload finished: the file must not be sent, nor left on the server.
        await this._withdraw(blobId);
        throw cancelledUpload();
      }
      const p = checkPointer({ blobId, key: pointer.slice(0, 32), digest: pointer.slice(32, 64), size: data.length, contentType, name, thumbnail });
      this._remember(blobId, data, contentType);
      await this.d.messenger.sendFile(to, p);
      return p;
    } catch (e) {
      throw mapApiError(e, "upload");
    }
  }

  /**
   * POST the blob with progress. Cancel while bytes are still going up aborts the request (the server keeps
   * nothing of a cut upload); once every byte left, aborting would only hide the answer while the server
   * stores the blob, so the request runs to its end and a stored blob is deleted before "cancelled".
   */
  _upload(to, body, transfer, retried = false) {
    const signal = transfer.controller.signal;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(cancelledUpload());
      const xhr = new XMLHttpRequest();
      let bodySent = false;
      let giveUp = null;
      // A server that never answers must not keep a cancelled row forever: give up (its TTL deletes the blob).
      const onCancel = () => (bodySent ? (giveUp = setTimeout(() => xhr.abort(), CANCEL_WAIT_MS)) : xhr.abort());
      const settle = (fn, value) => {
        clearTimeout(giveUp);
        signal.removeEventListener("abort", onCancel);
        fn(value);
      };
      xhr.open("POST", `${this.d.api.base}/blobs?to=${encodeURIComponent(to)}`);
      xhr.setRequestHeader("Authorization", `Bearer ${this.d.api.token}`);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.onprogress = (e) => {
        if (!e.lengthComputable) return;
        if (e.loaded >= e.total) bodySent = true; // set before the bar moves: a Cancel it prompts must not abort
        transfer._progress(e.loaded / e.total);
      };
      xhr.upload.onload = () => (bodySent = true);
      xhr.onerror = () => settle(reject, signal.aborted ? cancelledUpload() : new ApiError(0, "network", "The server cannot be reached."));
      xhr.onabort = () => settle(reject, cancelledUpload());
      xhr.onload = () => {
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch {
          data = null;
        }
        if (xhr.status >= 200 && xhr.status < 300 && data) {
          if (!signal.aborted) return settle(resolve, data);
          return this._withdraw(data.blob_id).then(() => settle(reject, cancelledUpload()));
        }
        if (signal.aborted) return settle(reject, cancelledUpload()); // refused: nothing was stored
        const err = (data && data.error) || {};
        const e = new ApiError(xhr.status, err.code || `http_${xhr.status}`, err.message || "", err.details);
        if (e.code === "unauthenticated" && !retried && this.d.api.onUnauthenticated) {
          signal.removeEventListener("abort", onCancel);
          return this.d.api.onUnauthenticated().then(() => this._upload(to, body, transfer, true)).then(resolve, reject);
        }
        settle(reject, e);
      };
      signal.addEventListener("abort", onCancel);
      xhr.send(new Blob([body]));
    });
  }

  /** Delete a blob we uploaded but will not send; if that fails the server's TTL deletes it anyway. */
  async _withdraw(blobId) {
    if (typeof blobId !== "string" || !/^[0-9a-f]{32}$/.test(blobId)) return;
    await this.d.api.del(`/blobs/${blobId}`).catch(() => {});
  }

  _remember(blobId, data, contentType) {
    const url = URL.createObjectURL(new Blob([data], { type: contentType }));
    this.cache.set(blobId, { url, data });
    return this.cache.get(blobId);
  }

  cached(blobId) {
    return this.cache.get(blobId) || null;
  }

  /** Download, verify and decrypt; resolves to {url, data} only after the digest matched. Throws FileError. */
  async fetch(p, transfer) {
    const hit = this.cached(p.blobId);
    if (hit) return hit;
    let blob;
    try {
      blob = await this._download(p, transfer);
    } catch (e) {
      if (e && e.name === "AbortError") throw new FileError("cancelled", "Download cancelled.");
      throw mapApiError(e, "download");
    }
    let data;
    try {
      data = attachments.decrypt(blob, concat(p.key, p.digest, u64be(p.size)));
    } catch {
      throw new FileError("tampered", "This file failed its integrity check: it was altered or is incomplete, so it was not opened.");
    }
    const entry = this._remember(p.blobId, data, p.contentType);
    this.d.api.post(`/blobs/${p.blobId}/fetched`).catch(() => {}); // the TTL deletes it anyway
    return entry;
  }

  /**
   * The ciphertext, with progress. A connection cut midway is resumed with `Range: bytes=<received>-`
   * (RESUME_ATTEMPTS times, waiting RESUME_WAIT_MS more each time), so a large file is not fetched again.
   */
  async _download(p, transfer) {
    const expected = attachments.encryptedSize(p.size);
    const parts = [];
    let got = 0;
    let reauthed = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this._open(p, transfer, got);
        if (res.status === 401 && !reauthed && this.d.api.onUnauthenticated) {
          reauthed = true;
          await this.d.api.onUnauthenticated();
          attempt--;
          continue;
        }
        if (!res.ok) {
          const body = await res.json().catch(() => ({}));
          const err = body.error || {};
          throw new ApiError(res.status, err.code || `http_${res.status}`, err.message || "", err.details);
        }
        if (got && res.status !== 206) throw new ApiError(res.status, "failed", "the server did not resume the download");
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          // A body that ends early without an error (a proxy cut it) is a cut connection too: resume.
          if (done && got < expected) throw new TypeError("the download ended early");
          if (done) return concat(...parts);
          parts.push(value);
          got += value.length;
          if (got > expected) throw new FileError("tampered", "This file failed its integrity check: it is larger than announced, so it was not opened.");
          transfer._progress(got / expected);
        }
      } catch (e) {
        const cut = e instanceof TypeError || (e instanceof ApiError && e.code === "network");
        if (transfer.controller.signal.aborted || !cut || attempt >= RESUME_ATTEMPTS) {
          if (cut && !transfer.controller.signal.aborted) throw new ApiError(0, "network", "The server cannot be reached.");
          throw e;
        }
        transfer.dispatchEvent(new Event("resuming"));
        await new Promise((r) => setTimeout(r, RESUME_WAIT_MS * (attempt + 1)));
      }
    }
  }

  _open(p, transfer, offset) {
    const headers = { Authorization: `Bearer ${this.d.api.token}` };
    if (offset) headers.Range = `bytes=${offset}-`;
    return fetch(`${this.d.api.base}/blobs/${p.blobId}`, {
      headers,
      signal: transfer.controller.signal,
      credentials: "omit",
      cache: "no-store",
    });
  }
}
