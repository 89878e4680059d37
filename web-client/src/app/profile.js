// Names on the wire and in the vault (docs/PROTOCOL.md section 23; client/names.py is the same in Python,
// both follow tests/vectors/names.json): the rule every name follows, the `profile` payload that carries a
// display name end to end, and the bodies of the vault records that keep names.
import { MAX_NAME_CHARS } from "../crypto/limits.js";

export class InvalidName extends Error {
  constructor(message) {
    super(message);
    this.name = "InvalidName"; // pinned: the production build minifies class names
  }
}

// Characters that reorder or hide text (a name that renders as another name): bidi controls and the BOM.
const HIDDEN = /[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u;
const REFUSED = /[\p{Cc}\p{Zl}\p{Zp}]/u; // control characters, line and paragraph separators
const ONLY_SPACES = /^\p{Zs}*$/u;

/** The name unchanged if valid (1..MAX_NAME_CHARS code points, not only spaces, no control, line-break or
 *  bidi characters), else InvalidName with a sentence for the person. */
export function checkName(name) {
  if (typeof name !== "string") throw new InvalidName("A name must be text.");
  if ([...name].length > MAX_NAME_CHARS) throw new InvalidName(`A name is at most ${MAX_NAME_CHARS} characters.`);
  if (REFUSED.test(name) || HIDDEN.test(name)) throw new InvalidName("A name cannot contain line breaks, control or text-direction characters.");
  if (ONLY_SPACES.test(name)) throw new InvalidName("A name cannot be empty.");
  return name;
}

/** The plaintext of a `profile` message (same key order as the SDK: the vectors compare bytes). */
export function profilePayload(to, displayName, sentAt, id) {
  return { v: 2, id, type: "profile", display_name: checkName(displayName), sent_at: sentAt, to };
}

/** The display name from a received profile payload, or null when it breaks the rules (then it is dropped). */
export function displayNameOf(payload) {
  try {
    return checkName(payload.display_name);
  } catch {
    return null;
  }
}

// Vault record bodies (kind CONTACT, or PROFILE for the own display name).
export const contactBody = (accountId, name) => ({ account_id: accountId, name: checkName(name) });
export const invitationBody = (invitationId, name) => ({ invitation_id: invitationId, name: checkName(name) });
export const boundBody = (accountId, invitationId, name) => ({ account_id: accountId, invitation_id: invitationId, name });
export const receivedBody = (accountId, displayName) => ({ account_id: accountId, display_name: checkName(displayName) });
export const ownProfileBody = (displayName) => ({ display_name: checkName(displayName) });
