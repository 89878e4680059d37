// The terms a client accepted, kept (encrypted, in the vault) so a later version can be shown as a line diff.
// The server keeps only the current version: what changed is computed on the device.

const record = (therapistId) => `terms-accepted:${therapistId}`;

/** Accept (sign) these terms, then remember their text for the next change. */
export async function acceptAndRemember(device, terms) {
  const r = await device.acceptTerms(terms);
  // Not awaited: the screen moves on at once (vault writes are serialised, so this one still lands in order).
  device.vault.put(record(terms.therapist_id), { version: terms.version, text: terms.text }).catch(() => {});
  return r;
}

/** The text this device last accepted for a therapist, or null (accepted elsewhere, or before this was kept). */
export async function rememberedTerms(device, therapistId) {
  try {
    return (await device.vault.get(record(therapistId))) || null;
  } catch {
    return null;
  }
}

/** For a client: true when an earlier version was accepted and a newer one now waits (an update, not a first read). */
export function termsUpdatePending(device) {
  if (device.role !== "client") return false;
  const t = device.contacts.get(device.me.linked_account_id);
  const c = t && t.consent;
  return !!(c && c.accepted_version > 0 && c.current_version && c.accepted_version !== c.current_version);
}
