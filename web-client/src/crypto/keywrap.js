// Keywrap (docs/PROTOCOL.md §9): the device keystore at rest.
//   header  = "CFKW" | version u8 = 1 | alg u8 = 2 (Argon2id13) | opslimit u32 | memlimit u32 | salt 16 | nonce 24  (54)
//   key     = Argon2id(passphrase, salt, opslimit, memlimit, 32)
//   wrapped = header || AEAD(key, nonce, keystore, ad = header)
import * as p from "./primitives.js";
import { concat, u32be, readU32be, utf8, equalBytes } from "../lib/bytes.js";
import { DecryptionFailed, MalformedState, TooLarge, UnsupportedVersion } from "./errors.js";
import { argon2idOffThread } from "./kdf.js";

export const MAGIC = utf8("CFKW");
export const HEADER_SIZE = 54;
export const DEFAULT_OPSLIMIT = 3;
export const DEFAULT_MEMLIMIT = 64 * 1024 * 1024;
const MAX_OPSLIMIT = 10;
const MAX_MEMLIMIT = 1024 * 1024 * 1024;

const passBytes = (passphrase) => (typeof passphrase === "string" ? utf8(passphrase) : passphrase);

function header(opslimit, memlimit, salt, nonce) {
  return concat(MAGIC, Uint8Array.of(1, 2), u32be(opslimit), u32be(memlimit), salt, nonce);
}

function parse(wrapped) {
  if (wrapped.length < HEADER_SIZE + 16) throw new MalformedState("wrapped keystore is truncated");
  if (!equalBytes(wrapped.slice(0, 4), MAGIC)) throw new MalformedState("not a wrapped keystore");
  if (wrapped[4] !== 1) throw new UnsupportedVersion(`keywrap version ${wrapped[4]} is not supported`);
  if (wrapped[5] !== 2) throw new UnsupportedVersion(`keywrap algorithm ${wrapped[5]} is not supported`);
  const opslimit = readU32be(wrapped, 6), memlimit = readU32be(wrapped, 10);
  if (opslimit > MAX_OPSLIMIT || memlimit > MAX_MEMLIMIT) throw new TooLarge("keywrap cost parameters are too high");
  if (opslimit < 1 || memlimit < 8192) throw new TooLarge("keywrap cost parameters are below libsodium's minimum");
  return { header: wrapped.slice(0, HEADER_SIZE), opslimit, memlimit, salt: wrapped.slice(14, 30), nonce: wrapped.slice(30, 54) };
}

export function wrap(passphrase, keystore, { opslimit = DEFAULT_OPSLIMIT, memlimit = DEFAULT_MEMLIMIT, salt = null, nonce = null } = {}) {
  salt = salt || p.randomBytes(16);
  nonce = nonce || p.randomBytes(24);
  const h = header(opslimit, memlimit, salt, nonce);
  const key = p.argon2id(passBytes(passphrase), salt, opslimit, memlimit);
  return concat(h, p.aeadEncrypt(key, nonce, keystore, h));
}

export function unwrap(passphrase, wrapped) {
  const w = parse(wrapped);
  const key = p.argon2id(passBytes(passphrase), w.salt, w.opslimit, w.memlimit);
  return p.aeadDecrypt(key, w.nonce, wrapped.slice(HEADER_SIZE), w.header);
}

// Vault helpers: the browser wraps its random storage key (see app/vault.js). Same format as wrap/unwrap, with
// Argon2id in a Web Worker (kdf.js) so the page never freezes; only the cheap AEAD runs on the main thread.
export async function wrapKey(passphrase, key) {
  const salt = p.randomBytes(16), nonce = p.randomBytes(24);
  const h = header(DEFAULT_OPSLIMIT, DEFAULT_MEMLIMIT, salt, nonce);
  const kek = await argon2idOffThread(passBytes(passphrase), salt, DEFAULT_OPSLIMIT, DEFAULT_MEMLIMIT);
  try {
    return concat(h, p.aeadEncrypt(kek, nonce, key, h));
  } finally {
    kek.fill(0);
  }
}

export async function unwrapKey(passphrase, blob) {
  const w = parse(blob);
  const kek = await argon2idOffThread(passBytes(passphrase), w.salt, w.opslimit, w.memlimit);
  try {
    const key = p.aeadDecrypt(kek, w.nonce, blob.slice(HEADER_SIZE), w.header);
    if (!key) throw new DecryptionFailed("wrong passphrase");
    return key;
  } finally {
    kek.fill(0);
  }
}
