// The records custodian in the browser (client/custodian.py is the same in the SDK; docs/PROTOCOL.md
// section 23): after a note is saved in the vault, it is sealed a second time to the practice's custodian
// key when the practice has one AND the therapist's current terms disclose that same key AND the client
// accepted them. The key used is the one pinned in the accepted terms text: a server offering another key
// is refused ("key_mismatch") and nothing is sealed to it.
import { RecordKind } from "../crypto/accountvault.js";
import { disclosedKey, sealCopy } from "../crypto/custodian.js";
import { equalBytes, fromB64, fromHex, toB64, utf8 } from "../lib/bytes.js";

export const CustodianStatus = Object.freeze({
  SEALED: "sealed",
  OFF: "off",
  NOT_DISCLOSED: "not_disclosed",
  NOT_ACCEPTED: "not_accepted",
  KEY_MISMATCH: "key_mismatch",
});

/** {status, key}: whether notes about this client go to the custodian, and the key the accepted terms pin. */
export async function custodianKeyFor(device, clientId) {
  const api = device.api;
  const configured = await api.get("/custodian");
  if (!configured.enabled) return { status: CustodianStatus.OFF, key: null };
  const [terms, listing] = await Promise.all([api.get(`/therapists/${device.me.account_id}/terms`), api.get("/contacts")]);
  const contact = listing.contacts.find((c) => c.account_id === clientId);
  const consent = (contact && contact.consent) || {};
  if (consent.accepted_version !== terms.version) return { status: CustodianStatus.NOT_ACCEPTED, key: null };
  const pinned = disclosedKey(terms.text);
  if (!pinned) return { status: CustodianStatus.NOT_DISCLOSED, key: null };
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
