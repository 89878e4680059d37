// The practice's rules as this browser enforces them before a video session (docs/TRUST.md), the same as the
// SDK's client/practice.py:
// - a contact whose account key changed and was not accepted or verified is never joined, admitted or
//   connected (reason "key_changed");
// - when the practice requires verified safety numbers (GET /practice, set by an administrator), a contact
//   whose safety number this person has not verified is never joined, admitted or connected ("unverified").
// A hostile server could serve the setting switched off, so a browser that saw it on ONCE keeps enforcing it
// (device.state.practiceRequiresVerified, in the encrypted device state; never cleared).
import { isBlocked } from "./trust.js";

export class CallRefused extends Error {
  constructor(accountId, reason, name) {
    super(
      reason === "key_changed"
        ? `${name}'s security key changed. Check it with them on the verify screen before this session.`
        : `This practice requires a verified safety number before a session. Compare safety numbers with ${name} first.`,
    );
    this.name = "CallRefused";
    this.accountId = accountId;
    this.reason = reason;
  }
}

/** Whether this browser enforces "verified safety numbers before a session": what the server says now, or
 *  having seen it on once (a server that says "off", or does not answer, does not lift it). */
export async function requiresVerified(device) {
  try {
    const s = await device.api.get("/practice");
    if (s.require_verified_safety_numbers === true && device.state && !device.state.practiceRequiresVerified) {
      device.state.practiceRequiresVerified = true;
      await device.saveState();
    }
  } catch {
    /* offline or refused: what this browser remembers still holds */
  }
  return remembered(device);
}

const remembered = (device) => !!(device.state && device.state.practiceRequiresVerified);

export function isVerified(device, accountId) {
  const st = device.state && device.state.contacts[accountId];
  return !!(st && st.verified && !st.keyChanged && !st.mismatch);
}

/** Why no session may happen with this contact right now (from what this browser knows), or null. */
export function refusal(device, accountId) {
  if (isBlocked(device, accountId)) return new CallRefused(accountId, "key_changed", device.contactName(accountId));
  if (remembered(device) && !isVerified(device, accountId)) return new CallRefused(accountId, "unverified", device.contactName(accountId));
  return null;
}

/** Throws CallRefused unless this browser may join, admit or connect a session with `accountId`. The
 *  contact list is refreshed first, so a key change the server now shows is seen before anything. */
export async function checkSessionWith(device, accountId) {
  await device.refreshContacts().catch(() => {});
  await requiresVerified(device);
  const refused = refusal(device, accountId);
  if (refused) throw refused;
}
