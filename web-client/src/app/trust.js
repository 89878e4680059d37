// Whom this device may encrypt to, call, and accept messages or signaling from (docs/PROTOCOL.md §16, §21):
// only devices whose certificate verifies under the account key pinned for their account (trust on first
// use, verified by safety number, or checked against the invitation fingerprint, §18). The server's device
// lists are hints; this module makes every trust decision, and messenger.js and call.js ask it.
//
// A changed account key BLOCKS the contact: nothing is sent to them (queued messages wait in the outbox) and
// no call is placed, until the person accepts the new key or verifies again.
//
// Per-contact state, in the encrypted device state (device.state.contacts[account_id]):
//   accountKey  b64 account key pinned for them (null until first seen)
//   pendingKey  b64 account key the server now lists, when it differs from the pinned one (blocking)
//   keyChanged  true while pendingKey waits for the person's decision
//   mismatch    true when the key listed at first contact did not match the invitation fingerprint (blocking)
//   verified    true once the pinned key was verified (safety number, QR or invitation fingerprint)
//   seen        {device_id: created_at} certified devices already announced in the conversation
import { fromB64, fromHex } from "../lib/bytes.js";
import { verifyCertificate, certificateFromJson } from "../crypto/signed.js";
import { fingerprintMatches, fromB64url, invitationFingerprint } from "../crypto/link.js";
import { formatDateTime } from "../lib/dom.js";

export class KeyChangeHold extends Error {
  constructor(accountId) {
    super("This person's security key changed: accept it or verify them before anything is sent.");
    this.name = "KeyChangeHold";
    this.accountId = accountId;
  }
}

const fresh = () => ({ accountKey: null, pendingKey: null, keyChanged: false, mismatch: false, verified: false, seen: {}, lastRead: 0 });

/** True while nothing may be sent to, or called with, this contact. */
export function isBlocked(device, accountId) {
  if (!device.state || accountId === (device.me && device.me.account_id)) return false;
  const st = device.state.contacts[accountId];
  return !!(st && (st.keyChanged || st.mismatch));
}

/** The listed devices whose certificates verify under `accountKeyB64` for `accountId` (others are dropped). */
export function certifiedDevices(accountId, accountKeyB64, devices) {
  if (!accountKeyB64) return { certified: [], rejected: devices.map((d) => d.device_id) };
  const key = fromB64(accountKeyB64);
  const certified = [], rejected = [];
  for (const d of devices || []) {
    try {
      const cert = certificateFromJson(d.certificate);
      verifyCertificate(key, fromHex(accountId), fromHex(d.device_id), fromB64(d.identity_key), cert);
      certified.push({ ...d, certifiedAt: cert.createdAt });
    } catch {
      rejected.push(d.device_id);
    }
  }
  return { certified, rejected };
}

/**
 * THE function for calls and messages: the certified devices of an accepted account key.
 * For our own account, our other devices certified under our own account key. For a contact, the devices
 * certified under their pinned account key, and none at all while the contact is blocked.
 * Each entry: {device_id, identity_key (b64), certificate, certifiedAt}.
 */
export function trustedDevices(device, accountId) {
  if (!device.me) return [];
  if (accountId === device.me.account_id) return (device.ownCertified || []).filter((d) => d.device_id !== device.me.device_id);
  const c = device.contacts.get(accountId);
  if (!c || isBlocked(device, accountId)) return [];
  return c.certified || [];
}

/** The pinned key of a trusted device (or null): for checking an initial message or a sealed signal. */
export function trustedIdentityKey(device, accountId, deviceId) {
  const d = trustedDevices(device, accountId).find((x) => x.device_id === deviceId);
  return d ? fromB64(d.identity_key) : null;
}

/**
 * Fold what the server lists for a contact into our pinned state. Returns {changed, added}: `added` are
 * certified devices not seen before (to announce), empty on first sight.
 */
export function mergeContact(device, c) {
  const st = (device.state.contacts[c.account_id] ||= fresh());
  st.seen ||= {};
  let changed = false;
  const listed = c.account_key || null;
  if (!st.accountKey && listed && !st.mismatch) {
    // First sight: trust on first use, unless the invitation carried the inviter's fingerprint (§18).
    const fp = device.state.invite && device.state.invite.accountId === c.account_id ? device.state.invite.fingerprint : null;
    if (fp && !fingerprintMatches(invitationFingerprint(fromHex(c.account_id), fromB64(listed)), fromB64url(fp))) {
      st.mismatch = true;
      st.pendingKey = listed;
    } else {
      st.accountKey = listed;
      st.verified = !!fp;
    }
    changed = true;
  } else if (st.accountKey && listed && listed !== st.accountKey) {
    if (!st.keyChanged || st.pendingKey !== listed) changed = true;
    st.keyChanged = true;
    st.pendingKey = listed;
  } else if (st.accountKey && listed === st.accountKey && st.keyChanged) {
    st.keyChanged = false; // the server lists the pinned key again
    st.pendingKey = null;
    changed = true;
  } else if (st.mismatch && listed !== st.pendingKey) {
    st.pendingKey = listed;
    changed = true;
  }
  const { certified, rejected } = certifiedDevices(c.account_id, st.accountKey, c.devices);
  const firstSight = Object.keys(st.seen).length === 0;
  const added = [];
  for (const d of certified) {
    if (st.seen[d.device_id]) continue;
    st.seen[d.device_id] = d.certifiedAt;
    if (!firstSight) added.push(d);
    changed = true;
  }
  for (const id of Object.keys(st.seen)) if (!certified.some((d) => d.device_id === id)) delete st.seen[id];
  device.contacts.set(c.account_id, { ...c, st, certified, rejected });
  return { changed, added };
}

/** Our own devices as listed by GET /me, kept only if certified under our own account key. */
export function ownCertified(device, me) {
  const own = device.keys.accountPublicB64();
  if (me.account_key && me.account_key !== own) return { certified: [], rejected: (me.devices || []).map((d) => d.device_id) };
  return certifiedDevices(device.me.account_id, own, me.devices || []);
}

export const addedDeviceText = (name, d) => `${name} added a device on ${formatDateTime(d.certifiedAt)}.`;

/** The person accepted the new key (or verified it): pin it, and release the queue. */
export async function acceptKeys(device, accountId, { verified = false } = {}) {
  const st = device.state && device.state.contacts[accountId];
  if (!st) return;
  if (st.pendingKey) st.accountKey = st.pendingKey;
  st.pendingKey = null;
  st.keyChanged = false;
  st.mismatch = false;
  st.verified = !!verified;
  st.seen = {};
  await device.saveState();
  await device.refreshContacts().catch(() => {});
  device.emit("contacts");
  device.messenger.flush();
}

/** The account key to show on the safety-number screen: the pending one while a change waits. */
export function shownAccountKey(device, accountId) {
  const st = device.state && device.state.contacts[accountId];
  if (!st) return null;
  return st.pendingKey || st.accountKey;
}
