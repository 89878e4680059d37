// The file pointer of a "file" message (docs/PROTOCOL.md section 11), as client/file_pointer.py:
//   {"v":1,"type":"file","file":{"blob_id","key","digest","size","content_type","name"[,"thumbnail"]},
//    "sent_at":ms,"to":"<account>"}
// key/digest/thumbnail are base64; the whole object travels inside the end-to-end encrypted message.
// Same rules as the SDK, pinned by tests/vectors/file_message.json: a pointer breaking one is refused.
import { fromB64, toB64 } from "../lib/bytes.js";
import { MAX_ATTACHMENT_BYTES, MAX_FILE_NAME_BYTES, MAX_THUMBNAIL_BYTES } from "../crypto/limits.js";

export class MalformedFile extends Error {
  constructor(message) {
    super(message);
    this.name = "MalformedFile";
  }
}

const BLOB_ID = /^[0-9a-f]{32}$/;
const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/;
// eslint-disable-next-line no-control-regex
const BAD_NAME = /[\x00-\x1f\x7f/\\]/;
const utf8Length = (s) => new TextEncoder().encode(s).length;

function b64(value, what) {
  if (typeof value !== "string") throw new MalformedFile(`${what} must be base64 text`);
  try {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) throw new Error();
    return fromB64(value);
  } catch {
    throw new MalformedFile("a binary field is not valid base64");
  }
}

/** Check a pointer's fields (bytes as Uint8Array); returns it unchanged or throws MalformedFile. */
export function checkPointer(p) {
  if (!BLOB_ID.test(p.blobId)) throw new MalformedFile("blob_id must be 32 lowercase hex characters");
  if (p.key.length !== 32 || p.digest.length !== 32) throw new MalformedFile("key and digest must be 32 bytes each");
  if (!Number.isInteger(p.size) || p.size < 0 || p.size > MAX_ATTACHMENT_BYTES) throw new MalformedFile("size out of range");
  if (!CONTENT_TYPE.test(p.contentType)) throw new MalformedFile("content_type must be a lowercase type/subtype");
  const n = utf8Length(p.name);
  if (n < 1 || n > MAX_FILE_NAME_BYTES || BAD_NAME.test(p.name)) throw new MalformedFile("bad file name");
  if (p.thumbnail) {
    if (!p.contentType.startsWith("image/")) throw new MalformedFile("only images carry a thumbnail");
    const t = p.thumbnail;
    if (t.length < 1 || t.length > MAX_THUMBNAIL_BYTES || t[0] !== 0xff || t[1] !== 0xd8 || t[2] !== 0xff) {
      throw new MalformedFile("thumbnail must be a small JPEG");
    }
  }
  return p;
}

export function pointerFromWire(doc) {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new MalformedFile("file must be an object");
  for (const k of ["blob_id", "key", "digest", "size", "content_type", "name"]) {
    if (!(k in doc)) throw new MalformedFile(`missing field ${k}`);
  }
  if (typeof doc.blob_id !== "string" || typeof doc.name !== "string" || typeof doc.content_type !== "string") {
    throw new MalformedFile("blob_id, name and content_type must be strings");
  }
  if (typeof doc.size !== "number") throw new MalformedFile("size must be an integer");
  return checkPointer({
    blobId: doc.blob_id,
    key: b64(doc.key, "key"),
    digest: b64(doc.digest, "digest"),
    size: doc.size,
    contentType: doc.content_type,
    name: doc.name,
    thumbnail: doc.thumbnail === undefined || doc.thumbnail === null ? null : b64(doc.thumbnail, "thumbnail"),
  });
}

/** The wire object, keys in the order both clients emit (the vectors pin the exact JSON). */
export function pointerToWire(p) {
  const doc = {
    blob_id: p.blobId,
    key: toB64(p.key),
    digest: toB64(p.digest),
    size: p.size,
    content_type: p.contentType,
    name: p.name,
  };
  if (p.thumbnail) doc.thumbnail = toB64(p.thumbnail);
  return doc;
}

export const filePayload = (to, pointer, sentAt, id) => ({ v: 2, id, type: "file", file: pointerToWire(pointer), sent_at: sentAt, to });

/** A sender's file name made acceptable (client/file_pointer.py safe_file_name). */
export function safeFileName(name) {
  // eslint-disable-next-line no-control-regex
  let base = String(name || "").split(/[/\\]/).pop().replace(/[\x00-\x1f\x7f]/g, "").trim() || "file";
  while (utf8Length(base) > MAX_FILE_NAME_BYTES) base = base.slice(0, -1);
  return base;
}

export const safeContentType = (type) => {
  const t = String(type || "").toLowerCase().split(";")[0].trim();
  return CONTENT_TYPE.test(t) ? t : "application/octet-stream";
};
