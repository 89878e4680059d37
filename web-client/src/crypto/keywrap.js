// Keywrap (docs/PROTOCOL.md §9): the device keystore at rest.
//   header  = "CFKW" | version u8 = 1 | alg u8 = 2 (Argon2id13) | opslimit u32 | memlimit u32 | salt 16 | nonce 24  (54)
//   key     = Argon2id(passphrase, salt, opslimit, memlimit, 32)
//   wrapped = header || AEAD(key, nonce, keystore, ad = header)
import * as p from "./primitives.js";
import { concat, u32be, readU32be, utf8, equalBytes } from "../lib/bytes.js";
import { DecryptionFailed, MalformedState, TooLarge, UnsupportedVersion } from "./errors.js";

export const MAGIC = utf8("CFKW");
export const HEADER_SIZE = 54;
export const DEFAULT_OPSLIMIT = 3;
export const DEFAULT_MEMLIMIT = 64 * 1024 * 1024;
const MAX_OPSLIMIT = 10;
const MAX_MEMLIMIT = 1024 * 1024 * 1024;

export function wrap(passphrase, keystore, { opslimit = DEFAULT_OPSLIMIT, memlimit = DEFAULT_MEMLIMIT, salt = null, nonce = null } = {}) {
  salt = salt || p.randomBytes(16);
  nonce = nonce || p.randomBytes(24);
  const header = concat(MAGIC, Uint8Array.of(1, 2), u32be(opslimit), u32be(memlimit), salt, nonce);
  const key = p.argon2id(typeof passphrase === "string" ? utf8(passphrase) : passphrase, salt, opslimit, memlimit);
  return concat(header, p.aeadEncrypt(key, nonce, keystore, header));
}

export function unwrap(passphrase, wrapped) {
  if (wrapped.length < HEADER_SIZE + 16) throw new MalformedState("wrapped keystore is truncated");
  if (!equalBytes(wrapped.slice(0, 4), MAGIC)) throw new MalformedState("not a wrapped keystore");
  if (wrapped[4] !== 1) throw new UnsupportedVersion(`keywrap version ${wrapped[4]} is not supported`);
  if (wrapped[5] !== 2) throw new UnsupportedVersion(`keywrap algorithm ${wrapped[5]} is not supported`);
  const ops = readU32be(wrapped, 6), mem = readU32be(wrapped, 10);
  if (ops > MAX_OPSLIMIT || mem > MAX_MEMLIMIT) throw new TooLarge("keywrap cost parameters are too high");
  if (ops < 1 || mem < 8192) throw new TooLarge("keywrap cost parameters are below libsodium's minimum");
  const header = wrapped.slice(0, HEADER_SIZE);
  const key = p.argon2id(typeof passphrase === "string" ? utf8(passphrase) : passphrase, wrapped.slice(14, 30), ops, mem);
  return p.aeadDecrypt(key, wrapped.slice(30, 54), wrapped.slice(HEADER_SIZE), header);
}

// Vault helpers: the browser wraps its random storage key (see app/vault.js).
export async function wrapKey(passphrase, key) {
  return wrap(passphrase, key);
}

export async function unwrapKey(passphrase, blob) {
  const key = unwrap(passphrase, blob);
  if (!key) throw new DecryptionFailed("wrong passphrase");
  return key;
}
