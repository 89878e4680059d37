// When therapy ends: discharge (a therapist ends a client's link), erasing one's own account, and noticing
// an ended link (the server's link_ended event, or a link found gone after being offline). Local history is
// never deleted by a discharge: it lives on this device, encrypted, and stays readable here.
import { concat, fromB64, fromHex, toB64, utf8 } from "../lib/bytes.js";

const ERASE_CONTEXT = "confidant-erase-account-v1";

/** The signed confirmation the server checks (server/services/erasure.py; SDK client/ending.py). */
export function eraseMessage(nonceB64, accountIdHex, deviceIdHex) {
  return concat(utf8(ERASE_CONTEXT), fromB64(nonceB64), fromHex(accountIdHex), fromHex(deviceIdHex));
}

export function watchEnding(device) {
  device.rt.on("link_ended", (e) => {
    const other = device.role === "therapist" ? e.client_id : e.therapist_id;
    markEnded(device, other).then(() => device.refreshContacts()).catch(() => {});
  });
  device.addEventListener("change", (ev) => {
    if (ev.detail.what !== "contacts" || device.role !== "client") return;
    const linked = device.me && device.me.linked_account_id;
    // Ended while this browser was offline: a therapist this device knew is no longer among the contacts.
    const known = linked && device.state && device.state.contacts && device.state.contacts[linked];
    if (known && !device.contacts.has(linked) && !endedAt(device, linked)) markEnded(device, linked).catch(() => {});
  });
}

async function markEnded(device, accountId) {
  if (!device.state || endedAt(device, accountId)) return;
  device.state.ended = { ...(device.state.ended || {}), [accountId]: Date.now() };
  await device.saveState();
  device.emit("link_ended", { accountId });
}

export function endedAt(device, accountId) {
  return (device.state && device.state.ended && device.state.ended[accountId]) || 0;
}

export async function dischargeClient(device, clientId) {
  await device.api.del(`/links/${clientId}`);
  await markEnded(device, clientId);
  await device.refreshContacts();
}

/** Erase this account on the server (confirmed by this device's key), then wipe this browser's copy. */
export async function eraseOwnAccount(device) {
  const { nonce } = await device.api.post("/me/erasure-challenge", {});
  const signature = device.keys.identity.sign(eraseMessage(nonce, device.me.account_id, device.me.device_id));
  // The socket first: the server closing it during the erasure must not be taken for a revoked device.
  device.rt.close();
  await device.api.post("/me/erase", { nonce, signature: toB64(signature) });
  await device.forget();
}
