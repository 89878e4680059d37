// The messenger's view of its device: exactly what app/messenger.js may use, and nothing else (the Python SDK
// draws the same line with client/outbox.py's OutboxPort and client/_sendport.py). Getters, because the device
// replaces its keys, state and vault on unlock and lock.
import { isBlocked, trustedDevices, trustedIdentityKey } from "./trust.js";

/** The narrow interface a Messenger gets instead of the whole Device. */
export function messengerPort(device) {
  return {
    get me() {
      return device.me; // {account_id, device_id, ...}
    },
    get status() {
      return device.status;
    },
    get state() {
      return device.state; // the persisted cursor and per-contact flags
    },
    get store() {
      return device.vault; // the encrypted record store (get, entries, write, del)
    },
    get keys() {
      return device.keys; // identity, prekeys, replay cache
    },
    get rt() {
      return device.rt; // the realtime connection (request, on, connected, state)
    },
    get api() {
      return device.api; // HTTP (get, post)
    },
    saveState: () => device.saveState(),
    emit: (name, detail) => device.emit(name, detail),
    login: () => device.login(),
    contact: (accountId) => device.contacts.get(accountId),
    contactName: (accountId) => device.contactName(accountId),
    refreshContacts: () => device.refreshContacts(),
    // Trust decisions (app/trust.js): only certified devices of accepted account keys.
    isBlocked: (accountId) => isBlocked(device, accountId),
    trustedDevices: (accountId) => trustedDevices(device, accountId),
    trustedIdentityKey: (accountId, deviceId) => trustedIdentityKey(device, accountId, deviceId),
  };
}
