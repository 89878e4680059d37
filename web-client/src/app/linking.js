// Linking a new device, approved on an existing one (docs/PROTOCOL.md §17, docs/API.md "Linking a device").
// NewDeviceLink runs on the new browser (N): it shows a code, waits for the offer, shows the comparison
// string, and once the person confirmed, opens the sealed account bundle and registers itself.
// ApprovingLink runs on an unlocked device of the account (E): it takes the code, shows the comparison
// string, and on confirmation issues the certificate and sends the account key sealed to N.
// A server that swaps keys or ids in between makes the two comparison strings differ.
import { fromB64, fromHex, toB64, toHex } from "../lib/bytes.js";
import { IdentityKeyPair, X25519KeyPair } from "../crypto/keys.js";
import { verifyCertificate, issueCertificate, certificateToJson } from "../crypto/signed.js";
import * as link from "../crypto/link.js";
import { DeviceKeys } from "./identity.js";
import { Api } from "./api.js";

const POLL_MS = 1000;

export class LinkCancelled extends Error {}

export class NewDeviceLink {
  constructor(api = new Api()) {
    this.api = api;
    this.keys = DeviceKeys.generate();
    this.linkKey = X25519KeyPair.generate();
    this.linkId = toHex(link.linkId(this.linkKey.public));
    this.code = link.linkCodeText(this.linkKey.public);
    this.comparison = null;
    this.cancelled = false;
  }

  /** Register the request; the code is then shown to the person. */
  async start() {
    const r = await this.api.post(
      "/device-links",
      { link_key: toB64(this.linkKey.public), device_id: this.keys.data.deviceId, identity_key: toB64(this.keys.identity.public) },
      { auth: false },
    );
    this.expiresAt = r.expires_at;
    return this;
  }

  async _poll(until) {
    for (;;) {
      if (this.cancelled) throw new LinkCancelled();
      const s = await this.api.get(`/device-links/${this.linkId}`, { auth: false });
      if (until(s)) return s;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Wait for an existing device's offer; returns the 6-digit comparison string computed from what WE saw. */
  async waitForOffer() {
    const s = await this._poll((x) => x.offer_key && x.account_id);
    this.accountId = s.account_id;
    this.t = link.transcript({
      linkId: fromHex(this.linkId),
      newLinkKey: this.linkKey.public,
      offerKey: fromB64(s.offer_key),
      accountId: fromHex(s.account_id),
      deviceId: fromHex(this.keys.data.deviceId),
      identityKey: this.keys.identity.public,
    });
    const { comparison, bundleKey } = link.linkSecrets(this.linkKey.secret, fromB64(s.offer_key), this.t);
    this.comparison = comparison;
    this._bundleKey = bundleKey;
    return comparison;
  }

  /** After the person confirmed the strings match: open the bundle, check the certificate, keep the keys. */
  async waitForApproval() {
    const s = await this._poll((x) => x.state === "approved" && x.bundle);
    const bundle = link.decodeAccountBundle(link.openAccountBundle(this._bundleKey, this.t, fromB64(s.bundle)));
    if (toHex(bundle.accountId) !== this.accountId) throw new Error("The approval is for another account.");
    const account = new IdentityKeyPair(bundle.accountSeed);
    verifyCertificate(account.public, bundle.accountId, fromHex(this.keys.data.deviceId), this.keys.identity.public, bundle.certificate);
    this.keys.setAccount(this.accountId, bundle.accountSeed, bundle.secrets);
    this.keys.data.certificate = certificateToJson(bundle.certificate);
    this._bundleKey.fill(0);
    this.linkKey.secret.fill(0);
    return this.keys;
  }

  cancel() {
    this.cancelled = true;
    this.api.del(`/device-links/${this.linkId}`, { auth: false }).catch(() => {});
  }
}

export class ApprovingLink {
  constructor(device, codeText) {
    this.d = device;
    this.newLinkKey = link.parseLinkCode(codeText); // throws on a mistyped code, before anything is sent
    this.linkId = toHex(link.linkId(this.newLinkKey));
    this.offerKey = X25519KeyPair.generate();
  }

  /** Send our offer; returns the comparison string for what the server says the new device is. */
  async offer() {
    const r = await this.d.api.post(`/device-links/${this.linkId}/offer`, { link_key: toB64(this.offerKey.public) });
    this.deviceId = r.device_id;
    this.identityKey = fromB64(r.identity_key);
    this.t = link.transcript({
      linkId: fromHex(this.linkId),
      newLinkKey: this.newLinkKey,
      offerKey: this.offerKey.public,
      accountId: fromHex(this.d.me.account_id),
      deviceId: fromHex(this.deviceId),
      identityKey: this.identityKey,
    });
    const { comparison, bundleKey } = link.linkSecrets(this.offerKey.secret, this.newLinkKey, this.t);
    this.comparison = comparison;
    this._bundleKey = bundleKey;
    return comparison;
  }

  /** The person confirmed: certify the new device and send it the account key and secrets, sealed. */
  async approve() {
    const keys = this.d.keys;
    const cert = issueCertificate(keys.account, fromHex(this.d.me.account_id), fromHex(this.deviceId), this.identityKey, Date.now());
    const bundle = link.encodeAccountBundle({
      accountId: fromHex(this.d.me.account_id),
      accountSeed: keys.account.seed,
      certificate: cert,
      secrets: keys.accountSecrets(),
    });
    const sealed = link.sealAccountBundle(this._bundleKey, this.t, bundle);
    bundle.fill(0);
    await this.d.api.post(`/device-links/${this.linkId}/approve`, { bundle: toB64(sealed) });
    this._bundleKey.fill(0);
    this.offerKey.secret.fill(0);
  }

  cancel() {
    this.d.api.del(`/device-links/${this.linkId}`).catch(() => {});
  }
}
