// The vault key on this device, for the names (app/names.js) that need it before the notes screen is ever
// opened (docs/PROTOCOL.md sections 22-23).
//
// Two places hold account secrets in the browser: the keystore record `account_secrets` that
// app/vault_records.js reads, and the account secrets of approved linking (`keys.accountSecrets()`,
// app/identity.js), which an approving device sends to a new one. This module keeps the vault key in both, so a
// device linked by approval can read the names (and notes) of its account without a recovery key.
import * as av from "../crypto/accountvault.js";
import { VaultLocked, vaultRecords } from "./vault_records.js";

const PENDING = "recovery_key_pending"; // local record: a vault key made here whose recovery key was not shown yet

/** True when this device can read and write its account's vault; false when it is locked (another device
 *  made the key and neither linking nor a recovery key brought it here). Creates the key on the account's
 *  first device. */
export function ensureVaultKey(device) {
  // One at a time per device: two callers at once (names at unlock, the notes screen) must not draw two keys.
  if (!device._vaultKeyBusy) device._vaultKeyBusy = ensure(device).finally(() => (device._vaultKeyBusy = null));
  return device._vaultKeyBusy;
}

async function ensure(device) {
  const vr = vaultRecords(device);
  const carried = device.keys.accountSecrets().find((x) => x.type === av.SECRET_VAULT_KEY);
  if (!(await vr.hasKey())) {
    if (carried) {
      const map = await vr.secrets();
      map.set(av.SECRET_VAULT_KEY, carried.value);
      await vr._setSecrets(map);
    } else {
      try {
        if (await vr.createKeyIfNew()) await device.vault.put(PENDING, true);
      } catch (e) {
        if (e instanceof VaultLocked) return false;
        throw e;
      }
    }
  }
  if (!carried && device.keys.data.account) {
    // Approved linking sends keys.accountSecrets(): the vault key goes with the account key from now on.
    const key = (await vr.secrets()).get(av.SECRET_VAULT_KEY);
    const secrets = device.keys.accountSecrets().filter((x) => x.type !== av.SECRET_VAULT_KEY);
    device.keys.setAccount(device.keys.data.account.id, device.keys.account.seed, [...secrets, { type: av.SECRET_VAULT_KEY, value: key }]);
    await device.vault.put("keys", device.keys.data);
  }
  return true;
}

/** True once when the vault key was made on this device for names and its recovery key is still to be shown
 *  (the notes screen shows it, as when it makes the key itself). */
export async function takeRecoveryKeyPending(device) {
  if (!(await device.vault.get(PENDING))) return false;
  await device.vault.del(PENDING);
  return true;
}
