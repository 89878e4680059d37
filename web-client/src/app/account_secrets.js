// The account secrets of this browser ({type: bytes}; docs/PROTOCOL.md §17 "account secrets", §22): kept with
// the account key in the device's keys record (app/identity.js `accountSecrets()` / `setAccount`), which is
// what approved linking (app/linking.js) seals into the account bundle for a new device. So the vault key
// (type 0x01) reaches a linked browser exactly as it reaches a linked SDK device.
import { SECRET_ACCOUNT_SEED } from "../crypto/accountvault.js";
import { fromB64, fromHex } from "../lib/bytes.js";

// Where an earlier build kept the vault key on its own ({type: hex}); moved into the keys record once read.
const LEGACY = "account_secrets";

/** Map type -> bytes. */
export async function readSecrets(device) {
  const map = new Map(device.keys.accountSecrets().map((x) => [x.type, x.value]));
  const legacy = await device.vault.get(LEGACY);
  if (legacy) {
    for (const [t, hex] of Object.entries(legacy)) if (!map.has(Number(t))) map.set(Number(t), fromHex(hex));
    await writeSecrets(device, map);
    await device.vault.del(LEGACY);
  }
  return map;
}

/** Replace them (persisted with the keys, so the next approved linking sends them). */
export async function writeSecrets(device, map) {
  const keys = device.keys;
  const secrets = [...map]
    .filter(([type]) => type !== SECRET_ACCOUNT_SEED) // the seed has its own field (§22.4)
    .sort(([a], [b]) => a - b)
    .map(([type, value]) => ({ type, value }));
  keys.setAccount(keys.data.account.id, fromB64(keys.data.account.seed), secrets);
  await device.messenger.exclusive(() => device.vault.put("keys", keys.data)); // never mid-page
}

/** What the recovery backup holds: every account secret and the account key seed (§22.4), so that the
 *  recovery key can re-create a device after every device is lost (§22.5). */
export async function backupSecrets(device) {
  const map = await readSecrets(device);
  map.set(SECRET_ACCOUNT_SEED, device.keys.account.seed);
  return map;
}
