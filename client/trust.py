"""Per-account trust of one device: pinned account keys, certified devices, blocking key changes.

Protocol version 2 (docs/PROTOCOL.md sections 10, 16, 18): a contact is trusted as an ACCOUNT. Its account
key is pinned on first sight (trust on first use), or verified (safety number over the two account keys,
or the invitation link's fingerprint). Its devices are used only if their certificate verifies under the
pinned key, so a device the server adds is never encrypted to. A different account key is a blocking event:
the contact is "blocked" until the person accepts the new key or verifies it; nothing is sent meanwhile.

State (records of the keystore's ``account_pin`` kind, client/state.py; reassigned after every change so the
keystore stages it), per account id:
    {"key": b64 pinned account key ("" = none trusted yet), "verified": bool,
     "pending": b64 key seen but not accepted | None, "reason": "changed" | "invitation_mismatch" | None,
     "announced": [device ids already reported] | None (None: the next listing is recorded silently),
     "untrusted": [device ids reported as uncertified]}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client._wire import b64d, b64e
from client.errors import KeyChanged
from client.state import DeviceState
from crypto import fingerprint
from crypto.certificate import AccountPublicKey, DeviceCertificate
from crypto.errors import CryptoError
from crypto.keys import IdentityPublicKey

__all__ = ["CertifiedDevice", "TrustBook"]

JSON = dict[str, Any]


@dataclass(frozen=True)
class CertifiedDevice:
    account_id: str
    device_id: str
    identity_key: bytes
    created_at: int  # the certificate's creation time, ms


def _certified(account_key: bytes, account_id: str, d: JSON) -> CertifiedDevice | None:
    try:
        cert = d["certificate"]
        certificate = DeviceCertificate(int(cert["created_at"]), b64d(cert["signature"]))
        identity = b64d(d["identity_key"])
        certificate.verify(
            AccountPublicKey(account_key),
            bytes.fromhex(account_id),
            bytes.fromhex(d["device_id"]),
            IdentityPublicKey(identity),
        )
    except (CryptoError, KeyError, TypeError, ValueError):
        return None
    return CertifiedDevice(account_id, str(d["device_id"]), identity, certificate.created_at)


class TrustBook:
    def __init__(self, state: DeviceState, own_account_key: AccountPublicKey) -> None:
        self.state = state
        self.own_key = own_account_key

    # -- queries ------

    def pin(self, account_id: str) -> JSON | None:
        return self.state.account_pins.get(account_id)

    def pinned_key(self, account_id: str) -> bytes | None:
        if account_id == self.state.account_id:
            return self.own_key.to_bytes()
        pin = self.pin(account_id)
        return b64d(pin["key"]) if pin and pin["key"] else None

    def is_blocked(self, account_id: str) -> bool:
        pin = self.pin(account_id)
        return account_id != self.state.account_id and pin is not None and pin["pending"] is not None

    def is_verified(self, account_id: str) -> bool:
        pin = self.pin(account_id)
        return bool(pin and pin["verified"] and pin["pending"] is None)

    def certified_devices(self, account_id: str) -> list[CertifiedDevice]:
        """Devices certified by the accepted account key; none while the contact is blocked."""
        if self.is_blocked(account_id):
            return []
        out = []
        for device_id in self.state.device_sets.get(account_id, []):
            raw = self.state.peer_identities.get(device_id)
            if raw is not None and self.state.device_accounts.get(device_id) == account_id:
                out.append(CertifiedDevice(account_id, device_id, b64d(raw), 0))
        return out

    def safety_number(self, account_id: str) -> str:
        """60 digits over both account keys (the pending one if the key changed: that is what to verify)."""
        pin = self.pin(account_id)
        if pin is None:
            raise KeyError(account_id)
        theirs = pin["pending"] or pin["key"]
        return fingerprint.safety_number(
            self.own_key,
            bytes.fromhex(self.state.account_id),
            AccountPublicKey(b64d(theirs)),
            bytes.fromhex(account_id),
        )

    # -- listing from the server ------

    def observe(self, account_id: str, account_key: bytes, devices: list[JSON]) -> list[KeyChanged | JSON]:
        """Record what the server lists for an account; returns notices for the app (changes, new devices,
        uncertified devices). Only certified devices enter ``device_sets`` and ``peer_identities``."""
        notices: list[KeyChanged | JSON] = []
        if account_id == self.state.account_id:  # our own key is known for certain; the listing is a hint
            account_key = self.own_key.to_bytes()
        pin = self._pin_for(account_id, account_key, notices)
        use = b64d(pin["key"]) if pin["key"] else b""
        certified: list[CertifiedDevice] = []
        for d in devices:
            found = _certified(use, account_id, d) if use else None
            if found is not None:
                certified.append(found)
            elif pin["pending"] is None:  # while blocked, the key change is the one notice
                device_id = str(d.get("device_id", ""))
                if device_id not in pin["untrusted"]:
                    pin["untrusted"].append(device_id)
                    notices.append(
                        {"event": "untrusted_device", "account_id": account_id, "device_id": device_id}
                    )
        announce = pin["announced"] is not None
        announced = set(pin["announced"] or [])
        for c in certified:
            if announce and c.device_id not in announced and c.device_id != self.state.device_id:
                notices.append(
                    {
                        "event": "device_added",
                        "account_id": account_id,
                        "device_id": c.device_id,
                        "created_at": c.created_at,
                    }
                )
            self._pin_device(c)
        pin["announced"] = sorted(announced | {c.device_id for c in certified})
        self.state.account_pins[account_id] = pin
        ids = [c.device_id for c in certified]
        if self.state.device_sets.get(account_id) != ids:
            self.state.device_sets[account_id] = ids
        return notices

    def _pin_for(self, account_id: str, key: bytes, notices: list[KeyChanged | JSON]) -> JSON:
        pin = self.pin(account_id)
        if pin is None:
            pin = {
                "key": b64e(key),
                "verified": False,
                "pending": None,
                "reason": None,
                "announced": None,
                "untrusted": [],
            }
            if account_id == self.state.account_id:
                pin["verified"] = True
            expected = self.state.invitation_fingerprints.pop(account_id, None)
            if expected is not None:
                try:
                    ok = fingerprint.verify_invitation_fingerprint(
                        expected, AccountPublicKey(key), bytes.fromhex(account_id)
                    )
                except CryptoError:
                    ok = False
                if ok:
                    pin["verified"] = True
                else:  # the server swapped the inviter's key: trust nothing of it
                    pin.update(key="", pending=b64e(key), reason="invitation_mismatch")
                    notices.append(KeyChanged(account_id, reason="invitation_mismatch"))
            self.state.account_pins[account_id] = pin
            return pin
        if pin["key"] == b64e(key):
            if pin["pending"] is not None and pin["reason"] == "changed":
                # The listing is back to the key the person trusts: devices it certifies are safe again.
                pin["pending"], pin["reason"] = None, None
                notices.append({"event": "key_restored", "account_id": account_id})
        elif pin["pending"] != b64e(key):
            pin["pending"], pin["reason"] = b64e(key), "changed"
            notices.append(KeyChanged(account_id, reason="changed"))
        return pin

    def _pin_device(self, c: CertifiedDevice) -> None:
        raw = b64e(c.identity_key)
        if self.state.peer_identities.get(c.device_id) not in (None, raw):
            self.state.sessions.pop(c.device_id, None)  # re-certified with another key: old sessions go
        if self.state.peer_identities.get(c.device_id) != raw:
            self.state.peer_identities[c.device_id] = raw
        if self.state.device_accounts.get(c.device_id) != c.account_id:
            self.state.device_accounts[c.device_id] = c.account_id

    # -- the person's decisions ------

    def accept_new_key(self, account_id: str, *, verified: bool = False) -> None:
        """Trust the pending account key (after the person accepted or verified it); old devices go."""
        pin = self.pin(account_id)
        if pin is None or pin["pending"] is None:
            return
        pin.update(
            key=pin["pending"], pending=None, reason=None, verified=verified, announced=None, untrusted=[]
        )
        self.state.account_pins[account_id] = pin
        for device_id in self.state.device_sets.pop(account_id, []):
            self.state.sessions.pop(device_id, None)
            self.state.peer_identities.pop(device_id, None)

    def mark_verified(self, account_id: str) -> None:
        """The person compared the safety number (or scanned the QR) of the current or pending key."""
        pin = self.pin(account_id)
        if pin is None:
            raise KeyError(account_id)
        if pin["pending"] is not None:
            self.accept_new_key(account_id, verified=True)
        else:
            pin["verified"] = True
            self.state.account_pins[account_id] = pin
