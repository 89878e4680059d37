// The Double Ratchet (Signal rev. 1, section 3) exactly as crypto/ratchet.py, including its state bytes:
//   version u8 = 1 | flags u8 (bit0 DHr, bit1 CKs, bit2 CKr) | DHs secret 32 | [DHr 32] | RK 32 | [CKs 32] | [CKr 32] |
//   Ns u32 | Nr u32 | PN u32 | prev_count u8 | prev x 32 | skipped_count u32 | skipped x (dh 32 | n u32 | mk 32)
// Decryption works on a copy and commits only on success.
import * as p from "./primitives.js";
import { concat, utf8, u32be, readU32be, toHex, fromHex, equalBytes } from "../lib/bytes.js";
import {
  CryptoError,
  DuplicateMessage,
  MalformedEnvelope,
  MalformedState,
  TooManySkippedMessages,
  UnsupportedVersion,
} from "./errors.js";
import { X25519KeyPair } from "./keys.js";
import { MAX_PREVIOUS_CHAINS, MAX_SKIP, MAX_SKIPPED_KEYS } from "./limits.js";

export const RK_INFO = utf8("confidant-ratchet-v1");
export const MK_INFO = utf8("confidant-message-keys-v1");
export const HEADER_SIZE = 40;
export const STATE_VERSION = 1;
const U32_MAX = 0xffffffff;

export function kdfRk(rk, dhOut) {
  const okm = p.hkdfSha256(dhOut, rk, RK_INFO, 64);
  return [okm.slice(0, 32), okm.slice(32)];
}

/** [next chain key, message key] */
export function kdfCk(ck) {
  return [p.hmacSha256(ck, Uint8Array.of(2)), p.hmacSha256(ck, Uint8Array.of(1))];
}

function keyMaterial(mk) {
  const okm = p.hkdfSha256(mk, new Uint8Array(32), MK_INFO, 56);
  return [okm.slice(0, 32), okm.slice(32)];
}

export const headerToBytes = (h) => concat(h.dh, u32be(h.pn), u32be(h.n));

export function headerFromBytes(raw) {
  if (raw.length !== HEADER_SIZE) throw new MalformedEnvelope("ratchet header has the wrong size");
  return { dh: raw.slice(0, 32), pn: readU32be(raw, 32), n: readU32be(raw, 36) };
}

const slotKey = (dh, n) => `${toHex(dh)}:${n}`;

function copyState(s) {
  return { ...s, previous: [...s.previous], skipped: new Map(s.skipped) };
}

export class DoubleRatchet {
  constructor(state) {
    this.s = state;
  }

  static initAlice(sk, bobPublic, keyPair = null) {
    const dhs = keyPair || X25519KeyPair.generate();
    const [rk, cks] = kdfRk(sk, dhs.dh(bobPublic));
    return new DoubleRatchet({ dhs, dhr: bobPublic, rk, cks, ckr: null, ns: 0, nr: 0, pn: 0, previous: [], skipped: new Map() });
  }

  static initBob(sk, keyPair) {
    return new DoubleRatchet({ dhs: keyPair, dhr: null, rk: sk, cks: null, ckr: null, ns: 0, nr: 0, pn: 0, previous: [], skipped: new Map() });
  }

  get canSend() {
    return this.s.cks !== null;
  }

  /** Returns [header, ciphertext]; `ad` is the caller's associated data (the header is appended). */
  encrypt(plaintext, ad) {
    const s = this.s;
    if (s.cks === null) throw new CryptoError("this side has not received a message yet and cannot send");
    if (s.ns >= U32_MAX) throw new CryptoError("sending chain exhausted");
    const [cks, mk] = kdfCk(s.cks);
    const header = { dh: s.dhs.public, pn: s.pn, n: s.ns };
    const [key, nonce] = keyMaterial(mk);
    const ct = p.aeadEncrypt(key, nonce, plaintext, concat(ad, headerToBytes(header)));
    s.cks = cks;
    s.ns += 1;
    return [header, ct];
  }

  decrypt(header, ciphertext, ad, newKeyPair = null) {
    const s = copyState(this.s);
    const fullAd = concat(ad, headerToBytes(header));
    const slot = slotKey(header.dh, header.n);
    if (s.skipped.has(slot)) {
      const mk = s.skipped.get(slot);
      s.skipped.delete(slot);
      const pt = open(mk, ciphertext, fullAd);
      this.s = s;
      return pt;
    }
    if (s.previous.some((k) => equalBytes(k, header.dh)) || (s.dhr && equalBytes(header.dh, s.dhr) && header.n < s.nr))
      throw new DuplicateMessage("message already decrypted or its key is no longer stored");
    if (!s.dhr || !equalBytes(header.dh, s.dhr)) {
      skip(s, header.pn);
      dhRatchet(s, header, newKeyPair || X25519KeyPair.generate());
    }
    skip(s, header.n);
    const [ckr, mk] = kdfCk(s.ckr);
    s.ckr = ckr;
    s.nr += 1;
    const pt = open(mk, ciphertext, fullAd);
    this.s = s;
    return pt;
  }

  toBytes() {
    const s = this.s;
    const flags = (s.dhr ? 1 : 0) | (s.cks ? 2 : 0) | (s.ckr ? 4 : 0);
    const out = [Uint8Array.of(STATE_VERSION, flags), s.dhs.secret];
    if (s.dhr) out.push(s.dhr);
    out.push(s.rk);
    if (s.cks) out.push(s.cks);
    if (s.ckr) out.push(s.ckr);
    out.push(u32be(s.ns), u32be(s.nr), u32be(s.pn), Uint8Array.of(s.previous.length));
    out.push(...s.previous);
    out.push(u32be(s.skipped.size));
    for (const [k, mk] of s.skipped) {
      const [dh, n] = k.split(":");
      out.push(fromHex(dh), u32be(Number(n)), mk);
    }
    return concat(...out);
  }

  static fromBytes(raw) {
    let pos = 0;
    const take = (n) => {
      if (pos + n > raw.length) throw new MalformedState("state is truncated");
      const out = raw.slice(pos, pos + n);
      pos += n;
      return out;
    };
    const u8 = () => take(1)[0];
    const u32 = () => readU32be(take(4), 0);
    const version = u8();
    if (version !== STATE_VERSION) throw new UnsupportedVersion(`ratchet state version ${version} is not supported`);
    const flags = u8();
    if (flags & ~0x07) throw new MalformedState("unknown ratchet state flags");
    let s;
    try {
      const dhs = new X25519KeyPair(take(32));
      const dhr = flags & 1 ? take(32) : null;
      const rk = take(32);
      const cks = flags & 2 ? take(32) : null;
      const ckr = flags & 4 ? take(32) : null;
      const ns = u32(), nr = u32(), pn = u32(), nPrev = u8();
      if (nPrev > MAX_PREVIOUS_CHAINS) throw new MalformedState("too many previous chains");
      const previous = [];
      for (let i = 0; i < nPrev; i++) previous.push(take(32));
      const nSkipped = u32();
      if (nSkipped > MAX_SKIPPED_KEYS) throw new MalformedState("too many skipped keys");
      const skipped = new Map();
      for (let i = 0; i < nSkipped; i++) {
        const dh = take(32), n = u32(), mk = take(32);
        skipped.set(slotKey(dh, n), mk);
      }
      s = { dhs, dhr, rk, cks, ckr, ns, nr, pn, previous, skipped };
    } catch (e) {
      if (e instanceof MalformedState) throw e;
      throw new MalformedState("ratchet state holds an invalid key");
    }
    if (pos !== raw.length) throw new MalformedState("trailing bytes after state");
    return new DoubleRatchet(s);
  }
}

function open(mk, ciphertext, ad) {
  const [key, nonce] = keyMaterial(mk);
  return p.aeadDecrypt(key, nonce, ciphertext, ad);
}

function skip(s, until) {
  if (s.nr + MAX_SKIP < until) throw new TooManySkippedMessages(`message is more than ${MAX_SKIP} messages ahead`);
  if (s.ckr === null) return;
  while (s.nr < until) {
    const [ckr, mk] = kdfCk(s.ckr);
    s.ckr = ckr;
    s.skipped.set(slotKey(s.dhr, s.nr), mk);
    s.nr += 1;
  }
  while (s.skipped.size > MAX_SKIPPED_KEYS) s.skipped.delete(s.skipped.keys().next().value);
}

function dhRatchet(s, header, newKeyPair) {
  if (s.dhr) {
    s.previous.push(s.dhr);
    if (s.previous.length > MAX_PREVIOUS_CHAINS) s.previous.splice(0, s.previous.length - MAX_PREVIOUS_CHAINS);
  }
  s.pn = s.ns;
  s.ns = 0;
  s.nr = 0;
  s.dhr = header.dh;
  [s.rk, s.ckr] = kdfRk(s.rk, s.dhs.dh(s.dhr));
  s.dhs = newKeyPair;
  [s.rk, s.cks] = kdfRk(s.rk, s.dhs.dh(s.dhr));
}
