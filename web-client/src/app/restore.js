// Re-creating this browser as a device of an account from its recovery key, after every device was lost
// (docs/PROTOCOL.md §22.5). client/recovery.py is the same in Python.
import * as av from "../crypto/accountvault.js";
import { ready } from "../crypto/primitives.js";
import { certificateToJson, issueCertificate } from "../crypto/signed.js";
import { fromB64, fromHex, toB64, toHex } from "../lib/bytes.js";
import { DeviceKeys } from "./identity.js";

/** The backup has no account key seed (made before backups carried it): it cannot re-create a device. */
export class RecoveryIncomplete extends Error {}

/**
 * Open the backup, certify a new device with the restored account key, register it with the recovery proof,
 * then keep the keys under `passphrase`. InvalidKey (crypto) for a typo, ApiError not_found for a wrong key,
 * rate_limited after too many tries.
 */
export async function restoreDevice(device, text, passphrase) {
  await ready();
  const key = av.parseRecoveryKey(text);
  const d = av.deriveRecovery(key);
  const proof = { lookup_id: toHex(d.lookupId), authenticator: toB64(d.authenticator) };
  const got = await device.api.post("/recovery/fetch", proof, { auth: false });
  const secrets = av.openBackup(key, fromHex(got.account_id), fromB64(got.ciphertext));
  const seed = secrets.get(av.SECRET_ACCOUNT_SEED);
  if (!seed) throw new RecoveryIncomplete("This recovery key was made before it could restore an account. Make a new one on a device you still have.");
  const keys = DeviceKeys.generate();
  const others = [...secrets].filter(([t]) => t !== av.SECRET_ACCOUNT_SEED).map(([type, value]) => ({ type, value }));
  keys.setAccount(got.account_id, seed, others);
  keys.data.certificate = certificateToJson(
    issueCertificate(keys.account, fromHex(got.account_id), fromHex(keys.data.deviceId), keys.identity.public, Date.now()),
  );
  const account = await device.api.post("/recovery/device", { ...proof, device: keys.devicePayload() }, { auth: false });
  await device._created(keys, { linked_account_id: null, ...account }, passphrase);
}
