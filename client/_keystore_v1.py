"""One-time migration of a version-1 keystore (one sealed JSON file, rewritten whole on every save).

v1 layout: ``{"format": "confidant-keystore", "v": 1, "wrapped_key", "nonce", "body"}`` with ``body`` the
XChaCha20-Poly1305 (storage key, ad ``confidant-keystore-v1``) of the whole state as JSON. The new file keeps
the same wrapped storage key, so the passphrase does not change; it is built beside the old one and renamed
over it, so a crash leaves one of the two complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from client import _keywrap
from client._wire import b64d
from client.errors import KeystoreError
from client.keystore import Keystore, new_file
from client.state import DeviceState, OutboxEntry, StoredMessage
from crypto import primitives

__all__ = ["migrate"]

_PROFILE = ("server_url", "account_id", "device_id", "role", "identity_seed", "current_signed_prekey",
            "next_prekey_id", "cursor")


def migrate(path: Path, passphrase: str) -> None:
    """Rewrite the v1 file at ``path`` as a v2 keystore (the caller holds the keystore's lock)."""
    try:
        doc = json.loads(path.read_bytes())
        if doc.get("format") != "confidant-keystore" or doc.get("v") != 1:
            raise ValueError
    except ValueError:
        raise KeystoreError("not a Confidant keystore, or an unsupported version") from None
    key = _keywrap.unwrap(passphrase, doc["wrapped_key"])
    try:
        old = json.loads(primitives.aead_decrypt(key, b64d(doc["nonce"]), b64d(doc["body"]),
                                                 b"confidant-keystore-v1"))
    except Exception:
        raise KeystoreError("the keystore file is corrupt") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.v2")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    ks = Keystore(tmp, new_file(tmp, doc["wrapped_key"]), key, None)
    try:
        state = DeviceState(ks)
        for name in _PROFILE:
            if name in old:
                state.profile[name] = old[name]
        for table, values in ((state.signed_prekeys, old.get("signed_prekeys", {})),
                              (state.one_time_prekeys, old.get("one_time_prekeys", {})),
                              (state.sessions, old.get("sessions", {})),
                              (state.peer_identities, old.get("peer_identities", {})),
                              (state.device_accounts, old.get("device_accounts", {})),
                              (state.device_sets, old.get("device_sets", {}))):
            for k, v in values.items():
                table[k] = v
        for message_id in old.get("seen_ids", []):
            state.remember_seen(message_id)
        for m in old.get("inbox", []):
            state.inbox[m["id"]] = StoredMessage(**m)
        for e in old.get("outbox", []):
            state.outbox[e["id"]] = OutboxEntry(**e)
        for change in old.get("key_changes", []):
            state.key_changes.append(change)
        ks.commit_now()
    finally:
        ks.close_now()
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, path)
