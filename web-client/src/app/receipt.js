// Delivery receipts (docs/PROTOCOL.md section 20; the Python SDK's client/payload.py Receipt), pinned by
// tests/vectors/receipt.json: one per sender per received page, listing the ids of that sender's messages
// the page delivered.
import { MAX_RECEIPT_IDS } from "../crypto/limits.js";

const MESSAGE_ID = /^[0-9a-f]{32}$/;

/** The receipts for `ids` (one payload per MAX_RECEIPT_IDS ids) to account `to`; `newId()` names each. */
export function receiptPayloads(to, ids, sentAt, newId) {
  const out = [];
  for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
    out.push({ v: 2, id: newId(), type: "receipt", ids: ids.slice(i, i + MAX_RECEIPT_IDS), sent_at: sentAt, to });
  }
  return out;
}

/** The message ids of a received receipt, or null when it breaks the rules (then it is dropped). */
export function receiptIdsOf(payload) {
  const ids = payload && payload.ids;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_RECEIPT_IDS) return null;
  if (!ids.every((id) => typeof id === "string" && MESSAGE_ID.test(id))) return null;
  if (typeof payload.id !== "string" || !MESSAGE_ID.test(payload.id)) return null;
  return ids;
}
