"""The account vault's cryptography (docs/PROTOCOL.md section 22): records, the recovery key, the backup.

- **Records** are sealed under a key derived from the account's 32-byte vault key with XChaCha20-Poly1305; the
  associated data binds the account id, the record id and the record's version, so a server cannot move a
  record to another id or account, or serve an older version as the current one. The kind (note, contact
  name, profile) is the first byte of the authenticated plaintext: bound like the AD, hidden from the server.
- **Recovery key**: 16 random bytes plus a 4-byte checksum, written as 32 Crockford base32 characters in
  8 groups of 4. Three values are derived from it: a lookup id and an authenticator (the server keeps only
  SHA-256 of it, the verifier) that fetch the backup, and the key that seals it.
- **Backup / account secrets**: ``version 1 | account_id 16 | count u8 | (type u8 | length u16 | value)*``,
  the same entry list as the account bundle of approved linking (type 0x01 = the vault key), plus in the
  backup type 0x02 = the account key seed, so that a restored device can certify itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from crypto import primitives as p
from crypto.errors import DecryptionFailed, InvalidKey, MalformedState, TooLarge, UnsupportedVersion
from crypto.limits import MAX_ACCOUNT_SECRET_BYTES, MAX_ACCOUNT_SECRETS, MAX_VAULT_PLAINTEXT_BYTES
from crypto.padding import pad, unpad

__all__ = [
    "MAX_ACCOUNT_SECRETS",
    "MAX_ACCOUNT_SECRET_BYTES",
    "MAX_VAULT_PLAINTEXT_BYTES",
    "RECORD_VERSION",
    "SECRET_ACCOUNT_SEED",
    "SECRET_VAULT_KEY",
    "VAULT_KEY_BYTES",
    "RecordKind",
    "RecoveryKeys",
    "decode_secrets",
    "derive_recovery",
    "encode_secrets",
    "new_recovery_key",
    "new_vault_key",
    "open_backup",
    "open_record",
    "parse_recovery_key",
    "record_ad",
    "recovery_key_text",
    "seal_backup",
    "seal_record",
]

VAULT_KEY_BYTES = 32
RECORD_VERSION = 1  # first byte of a sealed record
BACKUP_VERSION = 1  # first byte of a sealed backup and of the secrets it holds
RECOVERY_KEY_BYTES = 16  # 128 bits: out of reach of any search, still 32 characters to write down
SECRET_VAULT_KEY = 0x01  # the account-secrets entry type of the vault key (shared with approved linking)
# The account key seed: only in the recovery backup (approved linking carries it in the bundle's own field).
SECRET_ACCOUNT_SEED = 0x02

_RECORD_KEY_INFO = b"confidant-vault-record-key-v1"
_RECORD_AD = b"confidant-vault-record-v1"
_CHECKSUM = b"confidant-recovery-key-v1"
_RECOVERY_SALT = b"confidant-recovery-v1"
_RECOVERY_INFO = b"confidant-recovery-keys-v1"
_BACKUP_AD = b"confidant-recovery-backup-v1"
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_READ_AS = {"O": "0", "I": "1", "L": "1"}


class RecordKind(IntEnum):
    NOTE = 0x01  # a therapist's note about one client
    CONTACT = 0x02  # the account's own name for a contact
    PROFILE = 0x03  # the account's own display name
    HISTORY = 0x04  # a chunk of one conversation's messages, for the account's new and restored devices


def new_vault_key() -> bytes:
    return p.random_bytes(VAULT_KEY_BYTES)


def _id16(value: bytes, what: str) -> bytes:
    if len(value) != 16:
        raise InvalidKey(f"{what} must be 16 bytes")
    return value


def record_ad(account_id: bytes, record_id: bytes, version: int) -> bytes:
    if not 1 <= version < 2**63:
        raise MalformedState("record version out of range")
    return (
        _RECORD_AD
        + _id16(account_id, "account id")
        + _id16(record_id, "record id")
        + version.to_bytes(8, "big")
    )


def _record_key(vault_key: bytes) -> bytes:
    if len(vault_key) != VAULT_KEY_BYTES:
        raise InvalidKey("vault key must be 32 bytes")
    return p.hkdf_sha256(vault_key, b"", _RECORD_KEY_INFO, 32)


def seal_record(
    vault_key: bytes,
    account_id: bytes,
    record_id: bytes,
    version: int,
    kind: RecordKind,
    body: bytes,
    *,
    nonce: bytes | None = None,
) -> bytes:
    """``0x01 | nonce 24 | AEAD(record key, nonce, kind u8 | pad(body), AD)`` for the version written."""
    if len(body) > MAX_VAULT_PLAINTEXT_BYTES:
        raise TooLarge("vault record body too large")
    nonce = p.random_bytes(p.AEAD_NONCE_SIZE) if nonce is None else nonce
    ad = record_ad(account_id, record_id, version)
    plaintext = bytes([RecordKind(kind)]) + pad(body)
    return bytes([RECORD_VERSION]) + nonce + p.aead_encrypt(_record_key(vault_key), nonce, plaintext, ad)


def open_record(
    vault_key: bytes, account_id: bytes, record_id: bytes, version: int, sealed: bytes
) -> tuple[RecordKind, bytes]:
    """The kind and body; DecryptionFailed for a wrong key, id, account or version, or any altered byte."""
    if not sealed:
        raise DecryptionFailed("empty record")
    if sealed[0] != RECORD_VERSION:
        raise UnsupportedVersion("unknown vault record version")
    if len(sealed) < 1 + p.AEAD_NONCE_SIZE + p.AEAD_TAG_SIZE:
        raise DecryptionFailed("record too short")
    nonce, ciphertext = sealed[1 : 1 + p.AEAD_NONCE_SIZE], sealed[1 + p.AEAD_NONCE_SIZE :]
    plaintext = p.aead_decrypt(
        _record_key(vault_key), nonce, ciphertext, record_ad(account_id, record_id, version)
    )
    try:
        kind = RecordKind(plaintext[0])
    except ValueError:
        raise DecryptionFailed("unknown record kind") from None
    return kind, unpad(plaintext[1:])


# --- the recovery key ---------------------------------------------------------------------------------


def new_recovery_key() -> bytes:
    return p.random_bytes(RECOVERY_KEY_BYTES)


def _checksum(key: bytes) -> bytes:
    return p.sha256(_CHECKSUM + key)[:4]


def recovery_key_text(key: bytes) -> str:
    """``XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX``: key 16 | checksum 4 as Crockford base32 (160 bits)."""
    if len(key) != RECOVERY_KEY_BYTES:
        raise InvalidKey("recovery key must be 16 bytes")
    number = int.from_bytes(key + _checksum(key), "big")
    chars = "".join(_ALPHABET[(number >> (5 * (31 - i))) & 31] for i in range(32))
    return "-".join(chars[i : i + 4] for i in range(0, 32, 4))


def parse_recovery_key(text: str) -> bytes:
    """The 16-byte key. Ignores case, spaces and '-', reads O as 0 and I/L as 1; anything else, a wrong length
    or a checksum mismatch (a typo) is InvalidKey."""
    chars = [_READ_AS.get(c, c) for c in text.upper() if c not in " -\t\n"]
    if len(chars) != 32 or any(c not in _ALPHABET for c in chars):
        raise InvalidKey("a recovery key is 32 characters of 0-9 and A-Z (no U)")
    number = 0
    for c in chars:
        number = (number << 5) | _ALPHABET.index(c)
    raw = number.to_bytes(20, "big")
    key, checksum = raw[:16], raw[16:]
    if not p.constant_time_equal(checksum, _checksum(key)):
        raise InvalidKey("the recovery key has a typo (checksum mismatch)")
    return key


@dataclass(frozen=True, slots=True)
class RecoveryKeys:
    lookup_id: bytes  # 16: finds the backup on the server
    authenticator: bytes  # 32: proves knowledge of the key when fetching; the server stores its SHA-256
    wrap_key: bytes  # 32: seals the backup; never leaves the device

    @property
    def verifier(self) -> bytes:
        return p.sha256(self.authenticator)


def derive_recovery(key: bytes) -> RecoveryKeys:
    if len(key) != RECOVERY_KEY_BYTES:
        raise InvalidKey("recovery key must be 16 bytes")
    okm = p.hkdf_sha256(key, _RECOVERY_SALT, _RECOVERY_INFO, 80)
    return RecoveryKeys(okm[0:16], okm[16:48], okm[48:80])


# --- account secrets and the backup --------------------------------------------------------------------


def encode_secrets(account_id: bytes, secrets: dict[int, bytes]) -> bytes:
    if len(secrets) > MAX_ACCOUNT_SECRETS:
        raise TooLarge("too many account secrets")
    out = bytearray([BACKUP_VERSION]) + _id16(account_id, "account id") + bytes([len(secrets)])
    for kind in sorted(secrets):
        value = secrets[kind]
        if not 0 < kind < 256 or len(value) > MAX_ACCOUNT_SECRET_BYTES:
            raise TooLarge("account secret out of range")
        out += bytes([kind]) + len(value).to_bytes(2, "big") + value
    return bytes(out)


def decode_secrets(data: bytes) -> tuple[bytes, dict[int, bytes]]:
    """(account id, {type: value}); entries must be unique and increasing (else MalformedState)."""
    if not data or data[0] != BACKUP_VERSION:
        raise UnsupportedVersion("unknown account secrets version")
    if len(data) < 18:
        raise MalformedState("account secrets truncated")
    account_id, count, at = data[1:17], data[17], 18
    if count > MAX_ACCOUNT_SECRETS:
        raise MalformedState("too many account secrets")
    secrets: dict[int, bytes] = {}
    last = 0
    for _ in range(count):
        if at + 3 > len(data):
            raise MalformedState("account secrets truncated")
        kind, length = data[at], int.from_bytes(data[at + 1 : at + 3], "big")
        if kind <= last or length > MAX_ACCOUNT_SECRET_BYTES or at + 3 + length > len(data):
            raise MalformedState("account secrets malformed")
        secrets[kind] = data[at + 3 : at + 3 + length]
        last, at = kind, at + 3 + length
    if at != len(data):
        raise MalformedState("trailing bytes after the account secrets")
    if SECRET_VAULT_KEY in secrets and len(secrets[SECRET_VAULT_KEY]) != VAULT_KEY_BYTES:
        raise MalformedState("the vault key entry must be 32 bytes")
    if SECRET_ACCOUNT_SEED in secrets and len(secrets[SECRET_ACCOUNT_SEED]) != 32:
        raise MalformedState("the account seed entry must be 32 bytes")
    return account_id, secrets


def seal_backup(
    key: bytes, account_id: bytes, secrets: dict[int, bytes], *, nonce: bytes | None = None
) -> bytes:
    """``0x01 | nonce 24 | AEAD(wrap_key, nonce, encode_secrets(...), backup label | account id)``."""
    nonce = p.random_bytes(p.AEAD_NONCE_SIZE) if nonce is None else nonce
    ad = _BACKUP_AD + _id16(account_id, "account id")
    plaintext = encode_secrets(account_id, secrets)
    return (
        bytes([BACKUP_VERSION]) + nonce + p.aead_encrypt(derive_recovery(key).wrap_key, nonce, plaintext, ad)
    )


def open_backup(key: bytes, account_id: bytes, sealed: bytes) -> dict[int, bytes]:
    """The secrets; DecryptionFailed for a wrong key, another account's backup or any altered byte."""
    if not sealed or sealed[0] != BACKUP_VERSION:
        raise UnsupportedVersion("unknown recovery backup version")
    if len(sealed) < 1 + p.AEAD_NONCE_SIZE + p.AEAD_TAG_SIZE:
        raise DecryptionFailed("backup too short")
    nonce, ciphertext = sealed[1 : 1 + p.AEAD_NONCE_SIZE], sealed[1 + p.AEAD_NONCE_SIZE :]
    ad = _BACKUP_AD + _id16(account_id, "account id")
    inner_account, secrets = decode_secrets(
        p.aead_decrypt(derive_recovery(key).wrap_key, nonce, ciphertext, ad)
    )
    if inner_account != account_id:
        raise DecryptionFailed("the backup belongs to another account")
    return secrets
