// The prekey lifecycle of docs/PROTOCOL.md §19, run at each start and daily while unlocked:
// - the signed prekey is replaced when older than a week; a replaced secret (and the replay-cache entries
//   of its id) is deleted after the grace period, after which a replay fails with UnknownPreKey;
// - the secret of a one-time prekey that is no longer on the server (claimed) but was never used is deleted
//   once it has been gone for the grace period.
import { toB64 } from "../lib/bytes.js";
import { generateSignedPrekey } from "../crypto/keys.js";
import { CLAIMED_PREKEY_GRACE_SECONDS, SIGNED_PREKEY_GRACE_SECONDS, SIGNED_PREKEY_ROTATION_SECONDS } from "../crypto/limits.js";

export const DAY_MS = 24 * 3600 * 1000;

/** Returns true when the keystore changed (the caller saves it). */
export async function rotateSignedPrekey(device, now = Date.now()) {
  const data = device.keys.data;
  let changed = false;
  if (!data.spk.createdAt) {
    data.spk.createdAt = now;
    changed = true;
  }
  if (now - data.spk.createdAt >= SIGNED_PREKEY_ROTATION_SECONDS * 1000) {
    const next = generateSignedPrekey(device.keys.identity, (data.spk.id + 1) >>> 0 || 1);
    const rec = { id: next.id, secret: toB64(next.keyPair.secret), signature: toB64(next.signature), createdAt: now };
    await device.api.put("/keys/signed-prekey", { id: rec.id, public: toB64(next.keyPair.public), signature: rec.signature });
    // Uploaded first: if the upload fails, the current signed prekey stays current.
    data.oldSpks.push({ ...data.spk, replacedAt: now });
    data.spk = rec;
    changed = true;
  }
  const keep = [];
  for (const old of data.oldSpks) {
    if (now - (old.replacedAt || now) >= SIGNED_PREKEY_GRACE_SECONDS * 1000) {
      if (data.replay) delete data.replay[old.id];
      changed = true;
    } else {
      keep.push(old);
    }
  }
  data.oldSpks = keep;
  return changed;
}

export async function expireClaimedPrekeys(device, now = Date.now()) {
  const data = device.keys.data;
  const { ids } = await device.api.get("/keys/one-time-prekeys");
  const onServer = new Set((ids || []).map(Number));
  const gone = (data.otpkGone ||= {});
  let changed = false;
  for (const id of Object.keys(data.otpks)) {
    if (onServer.has(Number(id))) {
      if (gone[id]) {
        delete gone[id];
        changed = true;
      }
      continue;
    }
    if (!gone[id]) {
      gone[id] = now; // first seen gone: claimed by someone, its prekey message may still be on its way
      changed = true;
    } else if (now - gone[id] >= CLAIMED_PREKEY_GRACE_SECONDS * 1000) {
      delete data.otpks[id];
      delete gone[id];
      changed = true;
    }
  }
  return changed;
}

/** Both steps; failures (offline) are retried at the next run. */
export async function maintainPrekeys(device) {
  let changed = false;
  try {
    changed = (await rotateSignedPrekey(device)) || changed;
  } catch (e) {
    console.warn("signed prekey rotation", e && e.code);
  }
  try {
    changed = (await expireClaimedPrekeys(device)) || changed;
  } catch (e) {
    console.warn("one-time prekey expiry", e && e.code);
  }
  // Between two received pages (app/messenger.js exclusive): a page's replay cache is stored only with it.
  if (changed && device.keys) await device.messenger.exclusive(() => device.vault.put("keys", device.keys.data));
}
