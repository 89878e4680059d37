"""The device keystore: everything a device must remember, in one passphrase-protected file.

File layout (JSON, UTF-8):

    {"format": "confidant-keystore", "v": 1,
     "wrapped_key": "<b64 crypto.keywrap blob (Argon2id from the passphrase) of the 32-byte storage key>",
     "nonce": "<b64 24 bytes>", "body": "<b64 XChaCha20-Poly1305(storage key, nonce, state JSON,
                                            ad = b'confidant-keystore-v1')>"}

The passphrase is stretched once when the file is created or opened; every later save re-encrypts the
state under the same storage key with a fresh nonce, so saving (after each send and each received
message) costs no Argon2id. Writes are atomic: temporary file in the same directory, fsync, rename,
fsync of the directory. Secrets never appear in ``repr`` or log lines.

The state (``KeystoreState``) holds the identity seed, signed and one-time prekey secrets, ratchet sessions
per peer device (the active one first, a few previous ones: both sides may have started a session at the
same time), pinned peer identity keys, known device sets, the mailbox cursor, ids of recently received
messages (de-duplication), received messages not yet taken by the application, and the outbox.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from client import _keywrap
from client._wire import b64d, b64e
from client.errors import KeystoreError
from crypto import primitives

__all__ = ["KeystoreState", "OutboxEntry", "StoredMessage", "load_keystore", "save_keystore"]

FORMAT = "confidant-keystore"
VERSION = 1
_AD = b"confidant-keystore-v1"
MAX_SEEN_IDS = 5_000  # id de-duplication window; redelivered positions are already skipped by the cursor
MAX_PREVIOUS_SESSIONS = 4


@dataclass
class OutboxEntry:
    """A send not yet acknowledged by the server; retried with the same id (the server de-duplicates)."""

    id: str
    to_account: str
    plaintext: str = field(repr=False)  # b64 of the encoded payload (docs/SDK.md)
    created_at: int = 0
    body: dict[str, Any] | None = field(default=None, repr=False)  # last encrypted send, resent while valid


@dataclass
class StoredMessage:
    """A decrypted message persisted before its envelope was acknowledged, until the app takes it."""

    id: str
    from_account: str
    from_device: str
    pos: int
    sent_at: int
    plaintext: str = field(repr=False)  # b64 of the encoded payload


@dataclass
class KeystoreState:
    server_url: str
    account_id: str
    device_id: str
    role: str
    identity_seed: str  # b64, 32 bytes
    signed_prekeys: dict[str, str] = field(default_factory=dict)  # id -> b64 SignedPreKeyPair.to_bytes()
    current_signed_prekey: int = 1
    one_time_prekeys: dict[str, str] = field(default_factory=dict)  # id -> b64 OneTimePreKeyPair.to_bytes()
    next_prekey_id: int = 1
    sessions: dict[str, list[str]] = field(
        default_factory=dict
    )  # device -> [b64 Session.to_bytes()], active first
    peer_identities: dict[str, str] = field(default_factory=dict)  # device -> b64 identity key (pinned)
    device_accounts: dict[str, str] = field(default_factory=dict)  # device -> account
    device_sets: dict[str, list[str]] = field(default_factory=dict)  # account -> its current devices
    cursor: int = 0
    seen_ids: list[str] = field(default_factory=list)
    inbox: list[StoredMessage] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)
    key_changes: list[dict[str, str]] = field(default_factory=list)
    account_secrets: dict[str, str] = field(default_factory=dict)  # type -> b64 (PROTOCOL §22.4)

    def __repr__(self) -> str:
        return f"KeystoreState(account={self.account_id}, device={self.device_id}, secrets=<hidden>)"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> KeystoreState:
        data = json.loads(raw)
        data["inbox"] = [StoredMessage(**m) for m in data.get("inbox", [])]
        data["outbox"] = [OutboxEntry(**e) for e in data.get("outbox", [])]
        return cls(**data)

    def remember_seen(self, message_id: str) -> None:
        self.seen_ids.append(message_id)
        if len(self.seen_ids) > MAX_SEEN_IDS:
            del self.seen_ids[: len(self.seen_ids) - MAX_SEEN_IDS]


class SealedFile:
    """An open keystore file: holds the storage key in memory, encrypts and writes states atomically."""

    def __init__(self, path: Path, storage_key: bytes, wrapped_key: str) -> None:
        self.path = path
        self._key = storage_key
        self._wrapped = wrapped_key

    def __repr__(self) -> str:
        return f"SealedFile({self.path.name}, key=<hidden>)"

    @classmethod
    def create(cls, path: Path, passphrase: str, *, kdf: str = "interactive") -> SealedFile:
        if path.exists():
            raise KeystoreError("a keystore already exists at this path")
        key = primitives.random_bytes(primitives.AEAD_KEY_SIZE)
        return cls(path, key, _keywrap.wrap(passphrase, key, kdf))

    @classmethod
    def open(cls, path: Path, passphrase: str) -> tuple[SealedFile, KeystoreState]:
        try:
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise KeystoreError("no keystore at this path") from None
        except ValueError:
            raise KeystoreError("the keystore file is corrupt") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("v") != VERSION:
            raise KeystoreError("not a Confidant keystore, or an unsupported version")
        key = _keywrap.unwrap(passphrase, doc["wrapped_key"])
        sealed = cls(path, key, doc["wrapped_key"])
        try:
            body = primitives.aead_decrypt(key, b64d(doc["nonce"]), b64d(doc["body"]), _AD)
        except Exception:
            raise KeystoreError("the keystore file is corrupt") from None
        return sealed, KeystoreState.from_json(body)

    def save(self, state: KeystoreState) -> None:
        nonce = primitives.random_bytes(primitives.AEAD_NONCE_SIZE)
        body = primitives.aead_encrypt(self._key, nonce, state.to_json(), _AD)
        doc = {
            "format": FORMAT,
            "v": VERSION,
            "wrapped_key": self._wrapped,
            "nonce": b64e(nonce),
            "body": b64e(body),
        }
        atomic_write(self.path, json.dumps(doc, separators=(",", ":")).encode())


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` so that a crash leaves either the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load_keystore(path: Path, passphrase: str) -> tuple[SealedFile, KeystoreState]:
    return SealedFile.open(path, passphrase)


def save_keystore(sealed: SealedFile, state: KeystoreState) -> None:
    sealed.save(state)
