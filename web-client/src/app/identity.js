// The device's own key material as kept in the vault, and the signatures the API asks for
// (docs/API.md: auth challenge, consent; docs/PROTOCOL.md: signed prekeys).
import * as p from "../crypto/primitives.js";
import { concat, fromB64, fromHex, toB64, u32be, u64be, utf8 } from "../lib/bytes.js";
import { IdentityKeyPair, X25519KeyPair, generateOneTimePrekeys, generateSignedPrekey } from "../crypto/keys.js";
import { PREKEY_BATCH_SIZE } from "../crypto/limits.js";

export class DeviceKeys {
  constructor(data) {
    this.data = data;
    this.identity = new IdentityKeyPair(fromB64(data.seed));
  }

  static generate() {
    const identity = IdentityKeyPair.generate();
    const spk = generateSignedPrekey(identity, 1);
    const keys = new DeviceKeys({
      seed: toB64(identity.seed),
      spk: { id: spk.id, secret: toB64(spk.keyPair.secret), signature: toB64(spk.signature) },
      oldSpks: [],
      otpks: {},
      nextOtpkId: 1,
    });
    return keys;
  }

  /** A new batch of one-time prekeys: secrets kept here, publics returned for upload. */
  newOneTimePrekeys(count = PREKEY_BATCH_SIZE) {
    const batch = generateOneTimePrekeys(this.data.nextOtpkId, count);
    this.data.nextOtpkId += count;
    for (const k of batch) this.data.otpks[k.id] = toB64(k.keyPair.secret);
    return batch.map((k) => ({ id: k.id, public: toB64(k.keyPair.public) }));
  }

  signedPrekeyPublic() {
    const spk = this.signedPrekey(this.data.spk.id);
    return { id: spk.id, public: toB64(spk.keyPair.public), signature: this.data.spk.signature };
  }

  signedPrekey(id) {
    const rec = this.data.spk.id === id ? this.data.spk : this.data.oldSpks.find((s) => s.id === id);
    return rec ? { id: rec.id, keyPair: new X25519KeyPair(fromB64(rec.secret)) } : null;
  }

  oneTimePrekey(id) {
    const secret = this.data.otpks[id];
    return secret ? { id, keyPair: new X25519KeyPair(fromB64(secret)) } : null;
  }

  deleteOneTimePrekey(id) {
    delete this.data.otpks[id];
  }

  devicePayload() {
    return {
      identity_key: toB64(this.identity.public),
      signed_prekey: this.signedPrekeyPublic(),
      one_time_prekeys: this.newOneTimePrekeys(),
    };
  }

  authSignature(nonceB64, deviceIdHex) {
    return toB64(this.identity.sign(concat(utf8("confidant-auth-v1"), fromB64(nonceB64), fromHex(deviceIdHex))));
  }

  consentSignature({ therapistId, clientId, version, termsHash, signedAt }) {
    const msg = concat(
      utf8("confidant-consent-v1"),
      fromHex(therapistId),
      fromHex(clientId),
      u32be(version),
      fromB64(termsHash),
      u64be(signedAt),
    );
    return toB64(this.identity.sign(msg));
  }

  /** Seal a short note (e.g. a client's name) so that only this account's key can read it. */
  sealToSelf(text) {
    return toB64(p.sodium.crypto_box_seal(utf8(text), this.identity.x.public));
  }

  openFromSelf(b64) {
    try {
      return new TextDecoder().decode(p.sodium.crypto_box_seal_open(fromB64(b64), this.identity.x.public, this.identity.x.secret));
    } catch {
      return null;
    }
  }
}
