// Mirrors crypto/limits.py (each reason is written there).
export const PADDING_BLOCK_BYTES = 160;
export const DEVICE_ID_BYTES = 16;
export const MAX_ENVELOPE_BYTES = 64 * 1024;
export const MAX_PLAINTEXT_BYTES = 64000;
export const MAX_SKIP = 1000;
export const MAX_SKIPPED_KEYS = 2000;
export const MAX_PREVIOUS_CHAINS = 8;
export const PREKEY_BATCH_SIZE = 100;
export const MAX_STORED_ONE_TIME_PREKEYS = 1000;
export const PREKEY_LOW_WATER_MARK = 10;
export const ATTACHMENT_CHUNK_BYTES = 64 * 1024;
export const MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024;
export const MAX_THUMBNAIL_BYTES = 16 * 1024;
export const MAX_FILE_NAME_BYTES = 255;
// Version 2 (docs/PROTOCOL.md §14).
export const SIGNED_PREKEY_ROTATION_SECONDS = 604800;
export const SIGNED_PREKEY_GRACE_SECONDS = 3024000;
export const CLAIMED_PREKEY_GRACE_SECONDS = 3024000;
export const MAX_REPLAY_ENTRIES = 100000;
export const MAX_ACCOUNT_SECRETS = 16;
export const MAX_ACCOUNT_SECRET_BYTES = 4096;
export const LINK_SAS_DIGITS = 6;
// The account vault (docs/PROTOCOL.md section 22)
export const MAX_VAULT_PLAINTEXT_BYTES = 64000;
export const HISTORY_CHUNK_MESSAGES = 200; // a history record (section 22.6), rewritten whole on each append
export const HISTORY_CHUNK_BYTES = 48000; // its encoded body, under MAX_VAULT_PLAINTEXT_BYTES
// Names (docs/PROTOCOL.md section 23)
export const MAX_NAME_CHARS = 64;
// Delivery receipts (docs/PROTOCOL.md section 20): one per sender per received page of SYNC_PAGE.
export const MAX_RECEIPT_IDS = 200;
