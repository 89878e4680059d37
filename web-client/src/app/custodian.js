// The records custodian in the browser (client/custodian.py is the same in the SDK; docs/PROTOCOL.md
// section 24): after a note is saved in the vault, it is sealed a second time to the practice's custodian
// key when the practice has one AND the therapist's current terms disclose that same key AND the client
// accepted them. The key used is the one pinned in the accepted terms text, which must hash to what the
// client signed, with a signature by a certified device of the client's pinned account key ("unverified"
// otherwise); a server offering another key is refused ("key_mismatch"). Either way nothing is sealed.
import { RecordKind } from "../crypto/accountvault.js";
import { disclosedKey, sealCopy } from "../crypto/custodian.js";
import { consentMessage } from "../crypto/signed.js";
import { ed25519Verify, sha256 } from "../crypto/primitives.js";
import { equalBytes, fromB64, fromHex, toB64, utf8 } from "../lib/bytes.js";
import { trustedIdentityKey } from "./trust.js";

export const CustodianStatus = Object.freeze({
  SEALED: "sealed",
  OFF: "off",
  NOT_DISCLOSED: "not_disclosed",
  NOT_ACCEPTED: "not_accepted",
  KEY_MISMATCH: "key_mismatch",
  UNVERIFIED: "unverified",
});

/** The client signed this very text: its hash, by a certified device of the client's pinned account key. */
function signedByClient(device, clientId, consent, text) {
  const hash = fromB64(consent.terms_hash);
  if (!equalBytes(hash, sha256(utf8(text)))) return false;
  const key = trustedIdentityKey(device, clientId, consent.device_id);
  if (!key) return false;
  const message = consentMessage({ therapistId: fromHex(device.me.account_id), clientId: fromHex(clientId), version: consent.version, termsHash: hash, signedAt: consent.signed_at });
  try {
    ed25519Verify(key, message, fromB64(consent.signature));
    return true;
  } catch {
    return false;
  }
}

/** {status, key}: whether notes about this client go to the custodian, and the key the accepted terms pin. */
export async function custodianKeyFor(device, clientId) {
  const api = device.api;
  const configured = await api.get("/custodian");
  if (!configured.enabled) return { status: CustodianStatus.OFF, key: null };
  const [terms, listing] = await Promise.all([api.get(`/therapists/${device.me.account_id}/terms`), api.get("/consent")]);
  const consent = listing.consents.find((c) => c.client_id === clientId);
  if (!consent || consent.version !== terms.version) return { status: CustodianStatus.NOT_ACCEPTED, key: null };
  const pinned = disclosedKey(terms.text);
  if (!pinned) return { status: CustodianStatus.NOT_DISCLOSED, key: null };
  if (!signedByClient(device, clientId, consent, terms.text)) return { status: CustodianStatus.UNVERIFIED, key: null };
  if (!equalBytes(pinned, fromB64(configured.public_key))) return { status: CustodianStatus.KEY_MISMATCH, key: null };
  return { status: CustodianStatus.SEALED, key: pinned };
}

/** Store the custodian copy of a note just written ({recordId, version, kind, body} of the vault entry). */
export async function sealNoteCopy(device, entry) {
  if (entry.kind !== RecordKind.NOTE) return CustodianStatus.NOT_DISCLOSED;
  const { status, key } = await custodianKeyFor(device, entry.body.client);
  if (!key) return status;
  const sealed = sealCopy(key, fromHex(device.me.account_id), fromHex(entry.recordId), entry.version, RecordKind.NOTE, utf8(JSON.stringify(entry.body)));
  await device.api.put(`/custodian/copies/${entry.recordId}`, { version: entry.version, custodian_key: toB64(key), ciphertext: toB64(sealed) });
  return status;
}

/** The note was deleted: its copy goes too (while the therapist's account exists, the notes are theirs). */
export async function deleteNoteCopy(device, recordId) {
  await device.api.post(`/custodian/copies/${recordId}/delete`);
}
