// The pairwise session API (crypto/session.py), byte-compatible state:
//   version u8 = 1 | own_device 16 | peer_device 16 | peer_identity 32 | ad 66 | flags u8
//   (bit0 pending initial message, bit1 remote base key) | [initial message 73] | [remote base key 32] |
//   ratchet_len u32 | ratchet state
import { concat, u32be, readU32be, equalBytes } from "../lib/bytes.js";
import * as x3dh from "./x3dh.js";
import {
  INITIAL_MESSAGE_SIZE,
  TYPE_MESSAGE,
  TYPE_PREKEY,
  decodeInitialMessage,
  encodeBinding,
  encodeInitialMessage,
  parseEnvelope,
} from "./envelope.js";
import { CryptoError, MalformedState, SessionMismatch, TooLarge, UnknownPreKey, UnsupportedVersion, WrongRecipient, WrongSender } from "./errors.js";
import { DEVICE_ID_BYTES, MAX_PLAINTEXT_BYTES } from "./limits.js";
import { pad, unpad } from "./padding.js";
import { DoubleRatchet } from "./ratchet.js";

export const SESSION_VERSION = 1;
const AD_SIZE = 66;

export class Session {
  constructor(ownDeviceId, peerDeviceId, peerIdentityKey, ad, ratchet, pending, remoteBase) {
    for (const d of [ownDeviceId, peerDeviceId])
      if (d.length !== DEVICE_ID_BYTES) throw new CryptoError(`device ids are ${DEVICE_ID_BYTES} bytes`);
    this.ownDeviceId = ownDeviceId;
    this.peerDeviceId = peerDeviceId;
    this.peerIdentityKey = peerIdentityKey;
    this.ad = ad;
    this.ratchet = ratchet;
    this.pending = pending;
    this.remoteBase = remoteBase;
  }

  /** `ephemeral` and `ratchetKey` are for known-answer vectors only. */
  static initiate(ownIdentity, ownDeviceId, peerDeviceId, bundle, { ephemeral = null, ratchetKey = null } = {}) {
    const { message, secret } = x3dh.initiate(ownIdentity, bundle, ephemeral);
    const ratchet = DoubleRatchet.initAlice(secret.key, bundle.signedPrekey.public, ratchetKey);
    return new Session(ownDeviceId, peerDeviceId, bundle.identityKey, secret.ad, ratchet, message, null);
  }

  /** From a received prekey message: {session, plaintext, usedOneTimePrekeyId}. Lookups return {id, keyPair}|null. */
  static accept(ownIdentity, ownDeviceId, spkLookup, otpkLookup, envelope, { ratchetKey = null } = {}) {
    const env = parseEnvelope(envelope);
    if (!equalBytes(env.recipientDevice, ownDeviceId)) throw new WrongRecipient("envelope is addressed to another device");
    if (!env.initialMessage) throw new SessionMismatch("a session can only be started from a prekey message");
    const im = env.initialMessage;
    const spk = spkLookup(im.signedPrekeyId);
    if (!spk) throw new UnknownPreKey(`no signed prekey with id ${im.signedPrekeyId}`);
    let otpk = null;
    if (im.oneTimePrekeyId !== null) {
      otpk = otpkLookup(im.oneTimePrekeyId);
      if (!otpk) throw new UnknownPreKey(`no one-time prekey with id ${im.oneTimePrekeyId}`);
    }
    const secret = x3dh.respond(ownIdentity, spk, otpk, im);
    const ratchet = DoubleRatchet.initBob(secret.key, spk.keyPair);
    const session = new Session(ownDeviceId, env.senderDevice, im.identityKey, secret.ad, ratchet, null, im.ephemeralKey);
    const plaintext = session._decryptParsed(env, ratchetKey);
    return { session, plaintext, usedOneTimePrekeyId: im.oneTimePrekeyId };
  }

  get sendsPrekeyMessages() {
    return this.pending !== null;
  }

  encrypt(plaintext) {
    if (plaintext.length > MAX_PLAINTEXT_BYTES) throw new TooLarge(`plaintext exceeds ${MAX_PLAINTEXT_BYTES} bytes`);
    const type = this.pending === null ? TYPE_MESSAGE : TYPE_PREKEY;
    const binding = encodeBinding(type, this.ownDeviceId, this.peerDeviceId, this.pending);
    const [header, ct] = this.ratchet.encrypt(pad(plaintext), concat(this.ad, binding));
    return { type, bytes: concat(binding, header.dh, u32be(header.pn), u32be(header.n), ct) };
  }

  decrypt(envelope, { ratchetKey = null } = {}) {
    const env = parseEnvelope(envelope);
    if (!equalBytes(env.recipientDevice, this.ownDeviceId)) throw new WrongRecipient("envelope is addressed to another device");
    if (!equalBytes(env.senderDevice, this.peerDeviceId)) throw new WrongSender("envelope is from another device than this session's peer");
    if (
      env.initialMessage &&
      (!this.remoteBase ||
        !equalBytes(env.initialMessage.ephemeralKey, this.remoteBase) ||
        !equalBytes(env.initialMessage.identityKey, this.peerIdentityKey))
    )
      throw new SessionMismatch("prekey message belongs to another session: use Session.accept");
    return this._decryptParsed(env, ratchetKey);
  }

  _decryptParsed(env, ratchetKey) {
    const ratchet = DoubleRatchet.fromBytes(this.ratchet.toBytes());
    const padded = ratchet.decrypt(env.header, env.ciphertext, concat(this.ad, env.binding), ratchetKey);
    const plaintext = unpad(padded);
    this.ratchet = ratchet;
    this.pending = null;
    return plaintext;
  }

  toBytes() {
    const flags = (this.pending ? 1 : 0) | (this.remoteBase ? 2 : 0);
    const parts = [Uint8Array.of(SESSION_VERSION), this.ownDeviceId, this.peerDeviceId, this.peerIdentityKey, this.ad, Uint8Array.of(flags)];
    if (this.pending) parts.push(encodeInitialMessage(this.pending));
    if (this.remoteBase) parts.push(this.remoteBase);
    const r = this.ratchet.toBytes();
    parts.push(u32be(r.length), r);
    return concat(...parts);
  }

  static fromBytes(raw) {
    if (!raw.length) throw new MalformedState("session state is empty");
    if (raw[0] !== SESSION_VERSION) throw new UnsupportedVersion(`session state version ${raw[0]} is not supported`);
    const fixed = 1 + 16 + 16 + 32 + AD_SIZE + 1;
    if (raw.length < fixed + 4) throw new MalformedState("session state is truncated");
    const own = raw.slice(1, 17), peer = raw.slice(17, 33), ik = raw.slice(33, 65), ad = raw.slice(65, 131), flags = raw[131];
    if (flags & ~0x03) throw new MalformedState("unknown session state flags");
    let pos = fixed;
    let pending = null, remote = null;
    try {
      if (flags & 1) {
        pending = decodeInitialMessage(raw.slice(pos, pos + INITIAL_MESSAGE_SIZE));
        pos += INITIAL_MESSAGE_SIZE;
      }
      if (flags & 2) {
        remote = raw.slice(pos, pos + 32);
        if (remote.length !== 32) throw new MalformedState("session state is truncated");
        pos += 32;
      }
    } catch (e) {
      if (e instanceof MalformedState) throw e;
      throw new MalformedState("session state holds an invalid key");
    }
    if (raw.length < pos + 4) throw new MalformedState("session state is truncated");
    const len = readU32be(raw, pos);
    if (raw.length !== pos + 4 + len) throw new MalformedState("session state length mismatch");
    return new Session(own, peer, ik, ad, DoubleRatchet.fromBytes(raw.slice(pos + 4)), pending, remote);
  }
}
