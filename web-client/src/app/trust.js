// Whom this device may encrypt to and call: the one place that answers it (messenger.js and call.js ask here).
// A contact whose key changed is BLOCKED until the person accepts the new key or verifies again: nothing is
// sent to them (queued messages wait in the outbox) and no call is placed with them.
//
// Per-contact state lives in the encrypted device state (device.state.contacts[account_id]):
//   known       {device_id: identity_key b64} pinned on first sight or on acceptance
//   keyChanged  true while a changed key waits for the person's decision (blocking)
//   verified    true once the safety number was compared (cleared by any key change)

export class KeyChangeHold extends Error {
  constructor(accountId) {
    super("This person's security key changed: accept it or verify them before anything is sent.");
    this.name = "KeyChangeHold";
    this.accountId = accountId;
  }
}

/** True while nothing may be sent to, or called with, this contact. */
export function isBlocked(device, accountId) {
  if (!device.state || accountId === (device.me && device.me.account_id)) return false;
  const st = device.state.contacts[accountId];
  return !!(st && st.keyChanged);
}

/**
 * The devices of `accountId` this device may encrypt to, call and accept signaling from: the ones whose
 * identity key is the pinned one, and none at all while the contact is blocked by a key change.
 * Each entry: {device_id, identity_key (base64), created_at}.
 */
export function trustedDevices(device, accountId) {
  if (accountId === device.me.account_id) return device.devices.filter((d) => d.device_id !== device.me.device_id);
  const c = device.contacts.get(accountId);
  if (!c || isBlocked(device, accountId)) return [];
  const known = (c.st && c.st.known) || {};
  return c.devices.filter((d) => known[d.device_id] === d.identity_key);
}

/** The person accepted the new key (or verified it): pin what is listed now, and release the queue. */
export async function acceptKeys(device, accountId, { verified = false } = {}) {
  const st = device.state && device.state.contacts[accountId];
  if (!st) return;
  const c = device.contacts.get(accountId);
  if (c) {
    st.known = {};
    for (const d of c.devices) st.known[d.device_id] = d.identity_key;
  }
  st.keyChanged = false;
  if (verified) st.verified = true;
  await device.saveState();
  device.emit("contacts");
  device.messenger.flush();
}
