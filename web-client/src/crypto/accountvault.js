// The account vault's cryptography (docs/PROTOCOL.md section 22; crypto/vault.py is the same in Python):
// records sealed under the vault key, the recovery key and its derived keys, the sealed recovery backup.
// Not to be confused with src/app/vault.js, the device's local keystore.
import { aeadDecrypt, aeadEncrypt, AEAD_NONCE_SIZE, AEAD_TAG_SIZE, hkdfSha256, randomBytes, sha256, sodium } from "./primitives.js";
import { DecryptionFailed, InvalidKey, MalformedState, TooLarge, UnsupportedVersion } from "./errors.js";
import { pad, unpad } from "./padding.js";
import { MAX_ACCOUNT_SECRET_BYTES, MAX_ACCOUNT_SECRETS, MAX_VAULT_PLAINTEXT_BYTES } from "./limits.js";
import { concat, u64be, utf8 } from "../lib/bytes.js";

export const VAULT_KEY_BYTES = 32;
export const RECORD_VERSION = 1;
export const BACKUP_VERSION = 1;
export const RECOVERY_KEY_BYTES = 16;
export const SECRET_VAULT_KEY = 0x01;
// The account key seed: only in the recovery backup (approved linking carries it in the bundle's own field).
export const SECRET_ACCOUNT_SEED = 0x02;
export const RecordKind = Object.freeze({ NOTE: 0x01, CONTACT: 0x02, PROFILE: 0x03, HISTORY: 0x04 });

const RECORD_KEY_INFO = utf8("confidant-vault-record-key-v1");
const RECORD_AD = utf8("confidant-vault-record-v1");
const CHECKSUM = utf8("confidant-recovery-key-v1");
const RECOVERY_SALT = utf8("confidant-recovery-v1");
const RECOVERY_INFO = utf8("confidant-recovery-keys-v1");
const BACKUP_AD = utf8("confidant-recovery-backup-v1");
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const READ_AS = { O: "0", I: "1", L: "1" };
const KINDS = new Set(Object.values(RecordKind));
const constantTimeEqual = (a, b) => a.length === b.length && sodium.memcmp(a, b);

export const newVaultKey = () => randomBytes(VAULT_KEY_BYTES);

function id16(value, what) {
  if (!(value instanceof Uint8Array) || value.length !== 16) throw new InvalidKey(`${what} must be 16 bytes`);
  return value;
}

export function recordAd(accountId, recordId, version) {
  if (!Number.isSafeInteger(version) || version < 1) throw new MalformedState("record version out of range");
  return concat(RECORD_AD, id16(accountId, "account id"), id16(recordId, "record id"), u64be(version));
}

function recordKey(vaultKey) {
  if (vaultKey.length !== VAULT_KEY_BYTES) throw new InvalidKey("vault key must be 32 bytes");
  return hkdfSha256(vaultKey, new Uint8Array(0), RECORD_KEY_INFO, 32);
}

export function sealRecord(vaultKey, accountId, recordId, version, kind, body, nonce = null) {
  if (body.length > MAX_VAULT_PLAINTEXT_BYTES) throw new TooLarge("vault record body too large");
  if (!KINDS.has(kind)) throw new MalformedState("unknown record kind");
  const n = nonce ?? randomBytes(AEAD_NONCE_SIZE);
  const ad = recordAd(accountId, recordId, version);
  const ct = aeadEncrypt(recordKey(vaultKey), n, concat(Uint8Array.of(kind), pad(body)), ad);
  return concat(Uint8Array.of(RECORD_VERSION), n, ct);
}

/** -> {kind, body}; DecryptionFailed for a wrong key, id, account or version, or any altered byte. */
export function openRecord(vaultKey, accountId, recordId, version, sealed) {
  if (!sealed.length) throw new DecryptionFailed("empty record");
  if (sealed[0] !== RECORD_VERSION) throw new UnsupportedVersion("unknown vault record version");
  if (sealed.length < 1 + AEAD_NONCE_SIZE + AEAD_TAG_SIZE) throw new DecryptionFailed("record too short");
  const pt = aeadDecrypt(recordKey(vaultKey), sealed.subarray(1, 1 + AEAD_NONCE_SIZE),
    sealed.subarray(1 + AEAD_NONCE_SIZE), recordAd(accountId, recordId, version));
  if (!KINDS.has(pt[0])) throw new DecryptionFailed("unknown record kind");
  return { kind: pt[0], body: unpad(pt.subarray(1)) };
}

// --- the recovery key ---

export const newRecoveryKey = () => randomBytes(RECOVERY_KEY_BYTES);
const checksum = (key) => sha256(concat(CHECKSUM, key)).subarray(0, 4);

export function recoveryKeyText(key) {
  if (key.length !== RECOVERY_KEY_BYTES) throw new InvalidKey("recovery key must be 16 bytes");
  let n = 0n;
  for (const b of concat(key, checksum(key))) n = (n << 8n) | BigInt(b);
  let chars = "";
  for (let i = 31; i >= 0; i--) chars += ALPHABET[Number((n >> BigInt(5 * i)) & 31n)];
  return chars.match(/.{4}/g).join("-");
}

/** The 16-byte key from what a person typed; InvalidKey for a bad character, length or checksum (a typo). */
export function parseRecoveryKey(text) {
  const chars = [...String(text).toUpperCase()].filter((c) => !" -\t\n".includes(c)).map((c) => READ_AS[c] ?? c);
  if (chars.length !== 32 || chars.some((c) => !ALPHABET.includes(c))) {
    throw new InvalidKey("a recovery key is 32 characters of 0-9 and A-Z (no U)");
  }
  let n = 0n;
  for (const c of chars) n = (n << 5n) | BigInt(ALPHABET.indexOf(c));
  const raw = new Uint8Array(20);
  for (let i = 19; i >= 0; i--) { raw[i] = Number(n & 255n); n >>= 8n; }
  const key = raw.slice(0, 16);
  if (!constantTimeEqual(raw.subarray(16), checksum(key))) throw new InvalidKey("the recovery key has a typo (checksum mismatch)");
  return key;
}

export function deriveRecovery(key) {
  if (key.length !== RECOVERY_KEY_BYTES) throw new InvalidKey("recovery key must be 16 bytes");
  const okm = hkdfSha256(key, RECOVERY_SALT, RECOVERY_INFO, 80);
  const authenticator = okm.slice(16, 48);
  return { lookupId: okm.slice(0, 16), authenticator, wrapKey: okm.slice(48, 80), verifier: sha256(authenticator) };
}

// --- account secrets and the backup ---

/** secrets: Map<type, Uint8Array>. */
export function encodeSecrets(accountId, secrets) {
  if (secrets.size > MAX_ACCOUNT_SECRETS) throw new TooLarge("too many account secrets");
  const parts = [Uint8Array.of(BACKUP_VERSION), id16(accountId, "account id"), Uint8Array.of(secrets.size)];
  for (const type of [...secrets.keys()].sort((a, b) => a - b)) {
    const value = secrets.get(type);
    if (!(type > 0 && type < 256) || value.length > MAX_ACCOUNT_SECRET_BYTES) throw new TooLarge("account secret out of range");
    parts.push(Uint8Array.of(type, value.length >> 8, value.length & 255), value);
  }
  return concat(...parts);
}

export function decodeSecrets(data) {
  if (!data.length || data[0] !== BACKUP_VERSION) throw new UnsupportedVersion("unknown account secrets version");
  if (data.length < 18) throw new MalformedState("account secrets truncated");
  const accountId = data.slice(1, 17);
  const count = data[17];
  if (count > MAX_ACCOUNT_SECRETS) throw new MalformedState("too many account secrets");
  const secrets = new Map();
  let at = 18;
  let last = 0;
  for (let i = 0; i < count; i++) {
    if (at + 3 > data.length) throw new MalformedState("account secrets truncated");
    const type = data[at];
    const length = (data[at + 1] << 8) | data[at + 2];
    if (type <= last || length > MAX_ACCOUNT_SECRET_BYTES || at + 3 + length > data.length) {
      throw new MalformedState("account secrets malformed");
    }
    secrets.set(type, data.slice(at + 3, at + 3 + length));
    last = type;
    at += 3 + length;
  }
  if (at !== data.length) throw new MalformedState("trailing bytes after the account secrets");
  if (secrets.has(SECRET_VAULT_KEY) && secrets.get(SECRET_VAULT_KEY).length !== VAULT_KEY_BYTES) {
    throw new MalformedState("the vault key entry must be 32 bytes");
  }
  if (secrets.has(SECRET_ACCOUNT_SEED) && secrets.get(SECRET_ACCOUNT_SEED).length !== 32) {
    throw new MalformedState("the account seed entry must be 32 bytes");
  }
  return { accountId, secrets };
}

export function sealBackup(key, accountId, secrets, nonce = null) {
  const n = nonce ?? randomBytes(AEAD_NONCE_SIZE);
  const ad = concat(BACKUP_AD, id16(accountId, "account id"));
  return concat(Uint8Array.of(BACKUP_VERSION), n, aeadEncrypt(deriveRecovery(key).wrapKey, n, encodeSecrets(accountId, secrets), ad));
}

/** -> Map<type, Uint8Array>; DecryptionFailed for a wrong key, another account's backup or any altered byte. */
export function openBackup(key, accountId, sealed) {
  if (!sealed.length || sealed[0] !== BACKUP_VERSION) throw new UnsupportedVersion("unknown recovery backup version");
  if (sealed.length < 1 + AEAD_NONCE_SIZE + AEAD_TAG_SIZE) throw new DecryptionFailed("backup too short");
  const ad = concat(BACKUP_AD, id16(accountId, "account id"));
  const pt = aeadDecrypt(deriveRecovery(key).wrapKey, sealed.subarray(1, 1 + AEAD_NONCE_SIZE), sealed.subarray(1 + AEAD_NONCE_SIZE), ad);
  const { accountId: inner, secrets } = decodeSecrets(pt);
  if (!constantTimeEqual(inner, accountId)) throw new DecryptionFailed("the backup belongs to another account");
  return secrets;
}
