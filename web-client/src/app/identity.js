// The device's own key material as kept in the vault, and the signatures the API asks for
// (docs/API.md: auth challenge, consent; docs/PROTOCOL.md: signed prekeys).
import * as p from "../crypto/primitives.js";
import { concat, fromB64, fromHex, randomHex, toB64, toHex, u32be, u64be, utf8 } from "../lib/bytes.js";
import { replayKey } from "../crypto/link.js";
import { certificateToJson, issueCertificate } from "../crypto/signed.js";
import { IdentityKeyPair, X25519KeyPair, generateOneTimePrekeys, generateSignedPrekey } from "../crypto/keys.js";
import { MAX_REPLAY_ENTRIES, PREKEY_BATCH_SIZE } from "../crypto/limits.js";

export class DeviceKeys {
  constructor(data) {
    this.data = data;
    this.identity = new IdentityKeyPair(fromB64(data.seed));
    // The account key (docs/PROTOCOL.md §16): on the first device from the start, on a linked one once the
    // existing device has sent it.
    this.account = data.account ? new IdentityKeyPair(fromB64(data.account.seed)) : null;
  }

  static generate() {
    const identity = IdentityKeyPair.generate();
    const spk = generateSignedPrekey(identity, 1);
    const keys = new DeviceKeys({
      seed: toB64(identity.seed),
      spk: { id: spk.id, secret: toB64(spk.keyPair.secret), signature: toB64(spk.signature), createdAt: Date.now() },
      oldSpks: [],
      otpks: {},
      nextOtpkId: 1,
      deviceId: randomHex(16),
      account: null, // {id, seed, secrets: [{type, value}]}
      certificate: null, // {created_at, signature}
      replay: {}, // signed prekey id -> [replay key hex] (§19)
    });
    return keys;
  }

  /** First device of a new account: a fresh account key certifies this device (§16.2). */
  createAccount() {
    const account = IdentityKeyPair.generate();
    this.setAccount(randomHex(16), account.seed, []);
    this.data.certificate = certificateToJson(
      issueCertificate(account, fromHex(this.data.account.id), fromHex(this.data.deviceId), this.identity.public, Date.now()),
    );
  }

  setAccount(accountId, seed, secrets) {
    this.data.account = { id: accountId, seed: toB64(seed), secrets: secrets.map((x) => ({ type: x.type, value: toB64(x.value) })) };
    this.account = new IdentityKeyPair(seed);
  }

  accountPublicB64() {
    return this.account ? toB64(this.account.public) : null;
  }

  accountSecrets() {
    return ((this.data.account && this.data.account.secrets) || []).map((x) => ({ type: x.type, value: fromB64(x.value) }));
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
    if (this.data.otpkGone) delete this.data.otpkGone[id];
  }

  /** §19: was this initial message (identity key, ephemeral key) already accepted? */
  isReplay(im) {
    const list = (this.data.replay ||= {})[im.signedPrekeyId] || [];
    return list.includes(toHex(replayKey(im.identityKey, im.ephemeralKey)));
  }

  rememberInitialMessage(im) {
    const replay = (this.data.replay ||= {});
    const list = (replay[im.signedPrekeyId] ||= []);
    list.push(toHex(replayKey(im.identityKey, im.ephemeralKey)));
    // Bounded (crypto/limits.js): the oldest signed prekey's entries go first.
    let total = Object.values(replay).reduce((n, l) => n + l.length, 0);
    for (const id of Object.keys(replay).map(Number).sort((a, b) => a - b)) {
      while (total > MAX_REPLAY_ENTRIES && replay[id].length) {
        replay[id].shift();
        total--;
      }
    }
  }

  devicePayload() {
    return {
      device_id: this.data.deviceId,
      identity_key: toB64(this.identity.public),
      certificate: this.data.certificate,
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

  /** Seal a short note (e.g. a client's name) so that only this account's key (any of its devices) can read it. */
  sealToSelf(text) {
    const k = (this.account || this.identity).x;
    return toB64(p.sodium.crypto_box_seal(utf8(text), k.public));
  }

  openFromSelf(b64) {
    const k = (this.account || this.identity).x;
    try {
      return new TextDecoder().decode(p.sodium.crypto_box_seal_open(fromB64(b64), k.public, k.secret));
    } catch {
      return null;
    }
  }
}
