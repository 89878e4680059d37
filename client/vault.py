"""The encrypted account vault in the SDK: notes, contact names, the display name, the recovery key.

Records are sealed on this device under the account's vault key (docs/PROTOCOL.md section 22) and stored on
the server as opaque ciphertext (docs/API.md, "Vault"). The vault key and the other account secrets are
kept by an ``AccountSecrets`` holder: ``KeystoreSecrets`` keeps them in the device keystore; another
keystore (a per-record store) only has to implement the two methods.

Where the vault key comes from: the account's first device creates it (``Vault.create_key``); another device
receives it in the account secrets of approved linking (entry type 0x01; wired when the linking bundle
lands) or from the recovery key (``Vault.adopt_recovery_key``; ``client.recovery.restore_device`` re-creates a
whole device from it).

Conflicts: every write names the version it replaces. When another device wrote first, nothing is
overwritten: this device's text is kept as a new record (``conflict_of`` names the original) and both are
returned (``Saved.conflict``) so that the person sees both and decides.
"""

from __future__ import annotations

import json
import secrets as _secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from client._wire import b64d, b64e
from client.api import ApiClient
from client.errors import ApiError
from client.names import check_name
from crypto import vault as vc
from crypto.errors import CryptoError

__all__ = [
    "AccountSecrets",
    "KeystoreSecrets",
    "RecoveredAccount",
    "Saved",
    "Vault",
    "VaultEntry",
    "VaultLocked",
    "fetch_recovery",
]

JSON = dict[str, Any]


class VaultLocked(Exception):
    """This device has no vault key yet (create one, link with an approving device, or use a recovery key)."""


class AccountSecrets(Protocol):
    """Where this device keeps the account secrets ({type: value}; type 1 is the vault key)."""

    def get_account_secrets(self) -> dict[int, bytes]: ...

    def set_account_secrets(self, secrets: dict[int, bytes]) -> None:
        """Replace and persist them."""
        ...


class KeystoreSecrets:
    """``AccountSecrets`` in the device keystore: the ``account_secrets`` table ({type: b64}) that approved
    linking sends to a new device, committed with the keystore's next write."""

    def __init__(self, device: Any) -> None:
        self._device = device  # client.device.Device; typed loosely to keep this module free of it

    def get_account_secrets(self) -> dict[int, bytes]:
        return {int(k): b64d(v) for k, v in self._device.state.account_secrets.items()}

    def set_account_secrets(self, secrets: dict[int, bytes]) -> None:
        # Approved linking reads this table when it seals the account bundle (client/linking.py).
        for kind, value in sorted(secrets.items()):
            self._device.state.account_secrets[str(kind)] = b64e(value)
        self._device.state.keystore.commit_soon()


@dataclass(frozen=True, slots=True)
class VaultEntry:
    record_id: str
    version: int
    kind: vc.RecordKind
    body: JSON
    updated_at: int


@dataclass(frozen=True, slots=True)
class Saved:
    entry: VaultEntry  # what this device wrote (on a conflict: a new record holding its text)
    conflict: VaultEntry | None = None  # the other device's version, kept as it is; None when no conflict


@dataclass(frozen=True, slots=True)
class RecoveredAccount:
    account_id: str
    secrets: dict[int, bytes]  # 1: the vault key, 2: the account key seed

    @property
    def vault_key(self) -> bytes:
        return self.secrets[vc.SECRET_VAULT_KEY]


def _encode(body: JSON) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def fetch_recovery(server_url: str, recovery_key: str) -> RecoveredAccount:
    """Anonymous: the account's secrets from its recovery backup. ``InvalidKey`` (crypto) for a mistyped key,
    ApiError ``not_found`` for a wrong one, ``rate_limited`` after too many tries."""
    key = vc.parse_recovery_key(recovery_key)
    derived = vc.derive_recovery(key)
    async with ApiClient(server_url) as api:
        got = await api.request(
            "POST",
            "/recovery/fetch",
            {"lookup_id": derived.lookup_id.hex(), "authenticator": b64e(derived.authenticator)},
            auth=False,
        )
    account_id = str(got["account_id"])
    return RecoveredAccount(
        account_id, vc.open_backup(key, bytes.fromhex(account_id), b64d(got["ciphertext"]))
    )


class Vault:
    def __init__(
        self, api: ApiClient, account_id: str, secrets: AccountSecrets, account_seed: bytes | None = None
    ) -> None:
        self._api = api
        self._account_seed = account_seed  # sealed into the recovery backup (a restored device needs it)
        self._account = bytes.fromhex(account_id)
        self.account_id = account_id
        self._secrets = secrets
        self.position = 0  # the server's change position this device has caught up to
        self.entries: dict[str, VaultEntry] = {}  # this device's decrypted copy (memory only)
        self.unreadable: set[str] = set()  # records that failed to decrypt (altered by someone)

    @classmethod
    def of(cls, device: Any) -> Vault:
        """The vault of a ``client.device.Device``, its key kept in the device keystore."""
        return cls(device.api, device.account_id, KeystoreSecrets(device), device.account_key.to_bytes())

    # -- the key ------

    def has_key(self) -> bool:
        return vc.SECRET_VAULT_KEY in self._secrets.get_account_secrets()

    def _key(self) -> bytes:
        key = self._secrets.get_account_secrets().get(vc.SECRET_VAULT_KEY)
        if key is None:
            raise VaultLocked("this device has no vault key")
        return key

    def create_key(self) -> None:
        """On the account's first device: draw the vault key (refuses to replace an existing one)."""
        secrets = self._secrets.get_account_secrets()
        if vc.SECRET_VAULT_KEY in secrets:
            raise ValueError("this account's vault key already exists on this device")
        secrets[vc.SECRET_VAULT_KEY] = vc.new_vault_key()
        self._secrets.set_account_secrets(secrets)

    async def create_recovery_key(self) -> str:
        """A new recovery key (shown to the person once), replacing the previous one on the server. The
        backup holds every account secret and the account key seed (client/recovery.py re-creates a
        device from it)."""
        key = vc.new_recovery_key()
        derived = vc.derive_recovery(key)
        secrets = self._secrets.get_account_secrets()
        if self._account_seed is not None:
            secrets[vc.SECRET_ACCOUNT_SEED] = self._account_seed
        sealed = vc.seal_backup(key, self._account, secrets)
        await self._api.request(
            "PUT",
            "/recovery",
            {
                "lookup_id": derived.lookup_id.hex(),
                "verifier": b64e(derived.verifier),
                "ciphertext": b64e(sealed),
            },
        )
        return vc.recovery_key_text(key)

    async def adopt_recovery_key(self, recovery_key: str) -> None:
        """Take the account secrets from the recovery backup (a device of the account without a vault key)."""
        recovered = await fetch_recovery(self._api.base_url, recovery_key)
        if recovered.account_id != self.account_id:
            raise ValueError("this recovery key belongs to another account")
        merged = {**self._secrets.get_account_secrets(), **recovered.secrets}
        merged.pop(vc.SECRET_ACCOUNT_SEED, None)  # this device holds the account key in its own field
        self._secrets.set_account_secrets(merged)

    # -- sync ------

    def _open(self, item: JSON) -> VaultEntry | None:
        record_id, version = str(item["record_id"]), int(item["version"])
        try:
            kind, body = vc.open_record(
                self._key(), self._account, bytes.fromhex(record_id), version, b64d(item["ciphertext"])
            )
            decoded = json.loads(body)
        except (CryptoError, ValueError):
            self.unreadable.add(record_id)
            return None
        self.unreadable.discard(record_id)
        return VaultEntry(record_id, version, kind, decoded, int(item["updated_at"]))

    async def sync(self) -> int:
        """Pull every change since this device's position, drop records deleted elsewhere; returns the
        new position."""
        self._key()
        while True:
            page = await self._api.request(
                "GET", "/vault", params={"after": str(self.position), "limit": "100"}
            )
            for item in page["records"]:
                entry = self._open(item)
                if entry is not None:
                    self.entries[entry.record_id] = entry
                self.position = max(self.position, int(item["seq"]))
            if not page["more"]:
                break
        index = await self._api.request("GET", "/vault/index")
        live = {str(r["record_id"]): int(r["version"]) for r in index["records"]}
        for record_id in [r for r in self.entries if r not in live]:
            del self.entries[record_id]
        for record_id, version in live.items():  # a write that committed behind our position (see API.md)
            known = self.entries.get(record_id)
            if (known is None or known.version != version) and record_id not in self.unreadable:
                got = self._open(await self._api.request("GET", f"/vault/records/{record_id}"))
                if got is not None:
                    self.entries[record_id] = got
        self.position = max(self.position, int(index["position"]))
        return self.position

    # -- writes ------

    async def _write(self, record_id: str, version: int, kind: vc.RecordKind, body: JSON) -> VaultEntry:
        sealed = vc.seal_record(
            self._key(), self._account, bytes.fromhex(record_id), version + 1, kind, _encode(body)
        )
        got = await self._api.request(
            "PUT", f"/vault/records/{record_id}", {"expected_version": version, "ciphertext": b64e(sealed)}
        )
        entry = VaultEntry(record_id, int(got["version"]), kind, body, int(got["updated_at"]))
        self.entries[record_id] = entry
        return entry

    async def write(
        self, kind: vc.RecordKind, body: JSON, record_id: str | None = None, version: int = 0
    ) -> VaultEntry:
        """Write exactly this version (a new record without ``record_id``); ApiError ``conflict`` when
        another device wrote first. For records a client merges itself (history, client/history.py)."""
        return await self._write(record_id or _secrets.token_hex(16), version, kind, body)

    async def reload(self, record_id: str) -> VaultEntry | None:
        """The record as stored now (after a conflict); None if it is gone or does not decrypt."""
        try:
            got = self._open(await self._api.request("GET", f"/vault/records/{record_id}"))
        except ApiError as err:
            if err.code != "not_found":
                raise
            got = None
        if got is None:
            self.entries.pop(record_id, None)
        else:
            self.entries[record_id] = got
        return got

    async def save(
        self, kind: vc.RecordKind, body: JSON, record_id: str | None = None, base_version: int | None = None
    ) -> Saved:
        """Create (no ``record_id``) or update a record from ``base_version`` (the version the person was
        editing; default: the one this device holds). On a conflict both versions are kept: this text as a
        new record (``conflict_of``) and the other as it is."""
        if record_id is None:
            return Saved(await self._write(_secrets.token_hex(16), 0, kind, body))
        known = self.entries.get(record_id)
        base = base_version if base_version is not None else known.version if known is not None else 0
        try:
            return Saved(await self._write(record_id, base, kind, body))
        except ApiError as err:
            if err.code != "conflict":
                raise
            current = int(err.details.get("current_version", 0))
        theirs = None
        if current:
            theirs = self._open(await self._api.request("GET", f"/vault/records/{record_id}"))
            if theirs is not None:
                self.entries[record_id] = theirs
        else:
            self.entries.pop(record_id, None)  # deleted elsewhere: this text survives as its own record
        mine = await self._write(_secrets.token_hex(16), 0, kind, {**body, "conflict_of": record_id})
        return Saved(mine, theirs)

    async def delete(self, record_id: str) -> None:
        """Delete the record (its ciphertext leaves the server). ApiError ``conflict`` if it changed since."""
        entry = self.entries[record_id]
        await self._api.request(
            "POST", f"/vault/records/{record_id}/delete", {"expected_version": entry.version}
        )
        del self.entries[record_id]

    # -- notes, names, profile ------

    def of_kind(self, kind: vc.RecordKind) -> list[VaultEntry]:
        return [e for e in self.entries.values() if e.kind == kind]

    def notes(self, client_id: str | None = None) -> list[VaultEntry]:
        """Notes (about one client, or all), newest first by the time they were written."""
        notes = [
            n
            for n in self.of_kind(vc.RecordKind.NOTE)
            if client_id is None or n.body.get("client") == client_id
        ]
        return sorted(notes, key=lambda n: (int(n.body.get("updated_at", 0)), n.record_id), reverse=True)

    def search_notes(self, query: str, client_id: str | None = None) -> list[VaultEntry]:
        """Case-insensitive search on this device (the server cannot search what it cannot read)."""
        words = query.casefold().split()
        return [
            n
            for n in self.notes(client_id)
            if all(w in str(n.body.get("text", "")).casefold() for w in words)
        ]

    async def save_note(
        self,
        client_id: str,
        text: str,
        *,
        note_id: str | None = None,
        now: int,
        session_id: str | None = None,
        session_at: int | None = None,
        base_version: int | None = None,
    ) -> Saved:
        old = self.entries.get(note_id) if note_id else None
        body: JSON = {
            "client": client_id,
            "text": text,
            "created_at": int(old.body.get("created_at", now)) if old else now,
            "updated_at": now,
        }
        if session_id is not None:
            body["session_id"] = session_id
        if session_at is not None:
            body["session_at"] = session_at
        return await self.save(vc.RecordKind.NOTE, body, note_id, base_version)

    # Names (client/names.py, docs/PROTOCOL.md section 23). A CONTACT record holds either this person's own
    # name for a contact ("name", by "account_id" or, before the invitation is used, by "invitation_id") or
    # the display name the contact sent ("display_name"): two records, so neither write can clobber the other.

    def _contact(self, **match: str) -> VaultEntry | None:
        return _first(
            e
            for e in self.of_kind(vc.RecordKind.CONTACT)
            if all(e.body.get(k) == v for k, v in match.items())
            and ("display_name" in e.body) == ("display_name" in match)
        )

    def contact_names(self) -> dict[str, str]:
        """This person's own names for contacts, by account id (invitation names once bound)."""
        return {
            str(e.body["account_id"]): str(e.body["name"])
            for e in self.of_kind(vc.RecordKind.CONTACT)
            if "account_id" in e.body and "name" in e.body
        }

    def invitation_names(self) -> dict[str, str]:
        """Names typed at invitation time whose invitation has not been seen used yet, by invitation id."""
        return {
            str(e.body["invitation_id"]): str(e.body["name"])
            for e in self.of_kind(vc.RecordKind.CONTACT)
            if "invitation_id" in e.body and "account_id" not in e.body and "name" in e.body
        }

    def contact_display_names(self) -> dict[str, str]:
        """The display names contacts sent end to end, as kept in this vault."""
        return {
            str(e.body["account_id"]): str(e.body["display_name"])
            for e in self.of_kind(vc.RecordKind.CONTACT)
            if "account_id" in e.body and "display_name" in e.body
        }

    async def set_contact_name(self, account_id: str, name: str) -> Saved:
        existing = self._contact(account_id=account_id)
        body: JSON = {"account_id": account_id, "name": check_name(name)}
        if existing is not None and "invitation_id" in existing.body:
            body["invitation_id"] = existing.body["invitation_id"]
        return await self.save(vc.RecordKind.CONTACT, body, existing.record_id if existing else None)

    async def name_invitation(self, invitation_id: str, name: str) -> Saved:
        """The name typed for the person an invitation is for, bound to their account once they join."""
        body = {"invitation_id": invitation_id, "name": check_name(name)}
        return await self.save(vc.RecordKind.CONTACT, body)

    async def bind_invitations(self, invitations: Iterable[JSON]) -> int:
        """Give each used invitation's name to the account that used it (``GET /invitations`` items);
        returns how many were bound. Two devices binding at once: the later one finds it done."""
        used = {str(i["invitation_id"]): str(i["account_id"]) for i in invitations if i.get("account_id")}
        bound = 0
        for invitation_id, name in self.invitation_names().items():
            account_id = used.get(invitation_id)
            entry = self._contact(invitation_id=invitation_id)
            if account_id is None or entry is None or self._contact(account_id=account_id) is not None:
                continue
            body = {"account_id": account_id, "invitation_id": invitation_id, "name": name}
            try:
                await self._write(entry.record_id, entry.version, vc.RecordKind.CONTACT, body)
            except ApiError as err:
                if err.code != "conflict":
                    raise
                continue  # another device bound it first: the next sync brings its version
            bound += 1
        return bound

    async def remember_display_name(self, account_id: str, display_name: str) -> Saved | None:
        """Keep the display name a contact sent (None when it is already kept)."""
        existing = self._contact(account_id=account_id, display_name=display_name)
        if existing is not None:
            return None
        existing = _first(
            e
            for e in self.of_kind(vc.RecordKind.CONTACT)
            if e.body.get("account_id") == account_id and "display_name" in e.body
        )
        body = {"account_id": account_id, "display_name": check_name(display_name)}
        return await self.save(vc.RecordKind.CONTACT, body, existing.record_id if existing else None)

    def display_name(self) -> str | None:
        profile = _first(self.of_kind(vc.RecordKind.PROFILE))
        return None if profile is None else str(profile.body.get("display_name", ""))

    async def set_display_name(self, name: str) -> Saved:
        profile = _first(self.of_kind(vc.RecordKind.PROFILE))
        return await self.save(
            vc.RecordKind.PROFILE, {"display_name": check_name(name)}, profile.record_id if profile else None
        )


def _first(entries: Iterable[VaultEntry]) -> VaultEntry | None:
    return next(iter(entries), None)
