"""The records custodian in the SDK: a therapist's notes also sealed to the practice's offline key.

When the practice has a custodian (``GET /custodian``) AND the therapist's current terms disclose that same
key AND the client accepted those terms, every note about that client is sealed a second time, to the
custodian (docs/PROTOCOL.md section 24), and stored beside the vault record (docs/API.md, "Records
custodian"). The key used is the one pinned in the terms text the client accepted: that text must hash to
the ``terms_hash`` the client signed, with a signature by a certified device of the client's pinned account
key (else ``UNVERIFIED``: the server served another text than the client accepted), and a server that offers
another key than the terms disclose is refused (``KEY_MISMATCH``); either way nothing is sealed.
``web-client/src/app/custodian.js`` is the same in the browser.

Use ``Custodian.of(device).save_note(vault, ...)`` in place of ``Vault.save_note`` (or ``after_save`` after
any vault write), and ``delete_note`` in place of ``Vault.delete``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from client._keys import consent_message, terms_hash
from client._wire import b64d, b64e
from client.api import ApiClient
from client.vault import Saved, Vault, VaultEntry
from crypto import custodian as cu
from crypto.errors import CryptoError
from crypto.keys import verify_signature
from crypto.vault import RecordKind

__all__ = ["Custodian", "CustodianStatus", "NoteSaved", "disclosure"]

JSON = dict[str, Any]


class CustodianStatus(StrEnum):
    SEALED = "sealed"  # a copy sealed to the disclosed key is stored
    OFF = "off"  # the practice has no custodian
    NOT_DISCLOSED = "not_disclosed"  # the terms the client accepted do not disclose a custodian key
    NOT_ACCEPTED = "not_accepted"  # the client has not accepted the current terms
    KEY_MISMATCH = "key_mismatch"  # the server offers another key than the terms disclose: refused
    UNVERIFIED = "unverified"  # the client's signed acceptance does not match the text served: refused


@dataclass(frozen=True, slots=True)
class NoteSaved:
    saved: Saved
    custodian: CustodianStatus


async def disclosure(api: ApiClient) -> str | None:
    """The paragraph a therapist adds to their terms to disclose the practice's custodian (None when off)."""
    got = await api.request("GET", "/custodian")
    return cu.disclosure_text(b64d(got["public_key"])) if got.get("enabled") else None


class Custodian:
    def __init__(self, device: Any) -> None:
        self._device = device  # client.device.Device: its API, and the trust book that checks signatures
        self._api: ApiClient = device.api
        self._account: str = device.account_id

    @classmethod
    def of(cls, device: Any) -> Custodian:
        return cls(device)

    async def _signed_by_client(self, client_id: str, consent: JSON, text: str) -> bool:
        """The client signed this very text: its hash, by a certified device of the pinned account key."""
        if b64d(consent["terms_hash"]) != terms_hash(text):
            return False
        await self._device.contacts()  # refresh the pinned account key's certified devices
        keys = {d.device_id: d.identity_key for d in self._device.certified_devices(client_id)}
        key = keys.get(str(consent["device_id"]))
        if key is None:
            return False
        message = consent_message(
            self._account,
            client_id,
            int(consent["version"]),
            b64d(consent["terms_hash"]),
            int(consent["signed_at"]),
        )
        try:
            verify_signature(key, message, b64d(consent["signature"]))
        except CryptoError:
            return False
        return True

    async def key_for(self, client_id: str) -> tuple[CustodianStatus, bytes | None]:
        """Whether notes about this client go to the custodian, and the key pinned in the accepted terms."""
        configured = await self._api.request("GET", "/custodian")
        if not configured.get("enabled"):
            return CustodianStatus.OFF, None
        terms = await self._api.request("GET", f"/therapists/{self._account}/terms")
        consents = (await self._api.request("GET", "/consent"))["consents"]
        consent = next((c for c in consents if c["client_id"] == client_id), None)
        if consent is None or consent["version"] != terms["version"]:
            return CustodianStatus.NOT_ACCEPTED, None
        text = str(terms["text"])
        pinned = cu.disclosed_key(text)
        if pinned is None:
            return CustodianStatus.NOT_DISCLOSED, None
        if not await self._signed_by_client(client_id, consent, text):
            return CustodianStatus.UNVERIFIED, None
        if pinned != b64d(configured["public_key"]):
            return CustodianStatus.KEY_MISMATCH, None
        return CustodianStatus.SEALED, pinned

    async def seal(self, entry: VaultEntry) -> CustodianStatus:
        """Store the custodian copy of a note just written (any other kind: nothing to do)."""
        if entry.kind is not RecordKind.NOTE:
            return CustodianStatus.NOT_DISCLOSED
        status, key = await self.key_for(str(entry.body.get("client", "")))
        if key is None:
            return status
        body = json.dumps(entry.body, separators=(",", ":"), ensure_ascii=False).encode()
        sealed = cu.seal_copy(
            key,
            bytes.fromhex(self._account),
            bytes.fromhex(entry.record_id),
            entry.version,
            RecordKind.NOTE,
            body,
        )
        await self._api.request(
            "PUT",
            f"/custodian/copies/{entry.record_id}",
            {"version": entry.version, "custodian_key": b64e(key), "ciphertext": b64e(sealed)},
        )
        return status

    async def after_save(self, saved: Saved) -> NoteSaved:
        return NoteSaved(saved, await self.seal(saved.entry))

    async def save_note(self, vault: Vault, client_id: str, text: str, **kwargs: Any) -> NoteSaved:
        """``Vault.save_note`` plus the custodian copy (the arguments are those of ``Vault.save_note``)."""
        return await self.after_save(await vault.save_note(client_id, text, **kwargs))

    async def delete_note(self, vault: Vault, record_id: str) -> None:
        """Delete the note and its custodian copy (the therapist's to delete while the account exists)."""
        await vault.delete(record_id)
        await self._api.request("POST", f"/custodian/copies/{record_id}/delete")
