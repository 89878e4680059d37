// The vault key on the account's first device (docs/PROTOCOL.md sections 22-23): made at the first unlock, so
// that names (app/names.js), notes and history have it before any screen asks, and right after account
// creation, when the recovery key is shown (views/newrecovery.js). Where it is kept is app/account_secrets.js
// (with the account key, so approved linking carries it to a new device).
import { VaultLocked, vaultRecords } from "./vault_records.js";

/** True when this device can read and write its account's vault; false when it is locked (another device
 *  made the key and neither linking nor a recovery key brought it here). Creates the key on the account's
 *  first device. */
export function ensureVaultKey(device) {
  // One at a time per device: two callers at once (names at unlock, the recovery key screen) must not draw two keys.
  if (!device._vaultKeyBusy) device._vaultKeyBusy = ensure(device).finally(() => (device._vaultKeyBusy = null));
  return device._vaultKeyBusy;
}

async function ensure(device) {
  try {
    await vaultRecords(device).createKeyIfNew();
    return true;
  } catch (e) {
    if (e instanceof VaultLocked) return false;
    throw e;
  }
}
