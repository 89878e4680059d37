"""What a new device writes into its first keystore state, and how invitation links are read."""

from __future__ import annotations

from typing import Any

from client._wire import b64e, now_ms
from client.maintenance import INITIAL_PREKEYS
from client.state import DeviceState
from crypto import AccountKeyPair, DeviceCertificate, IdentityKeyPair, SignedPreKeyPair

__all__ = ["new_state", "parse_invitation"]

JSON = dict[str, Any]


def parse_invitation(text: str) -> tuple[str, str | None]:
    """(code, inviter fingerprint or None) from a code or an invitation link ``.../#/join/<code>[/<fp>]``."""
    if "#/join/" not in text:
        return text, None
    parts = text.split("#/join/", 1)[1].split("/")
    return parts[0], (parts[1] if len(parts) > 1 and parts[1] else None)


def new_state(
    state: DeviceState,
    server_url: str,
    created: JSON,
    identity: IdentityKeyPair,
    account_key: AccountKeyPair,
    certificate: DeviceCertificate,
    spk: SignedPreKeyPair,
    otks: list[Any],
    secrets: dict[str, str],
) -> None:
    """Stage a new device's first records (the caller commits)."""
    state.server_url = server_url.rstrip("/")
    state.account_id = str(created["account_id"])
    state.device_id = str(created["device_id"])
    state.role = str(created["role"])
    state.identity_seed = b64e(identity.to_bytes())
    state.signed_prekeys[str(spk.key_id)] = b64e(spk.to_bytes())
    state.current_signed_prekey = spk.key_id
    state.signed_prekey_created[str(spk.key_id)] = now_ms()
    for k in otks:
        state.one_time_prekeys[str(k.key_id)] = b64e(k.to_bytes())
    state.next_prekey_id = INITIAL_PREKEYS + 1
    state.account_seed = b64e(account_key.to_bytes())
    state.certificate = b64e(certificate.to_bytes())
    for kind, value in secrets.items():
        state.account_secrets[kind] = value
