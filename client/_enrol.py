"""What a new device writes into its first keystore state, and how invitation links are read."""

from __future__ import annotations

from typing import Any

from client._wire import b64e, now_ms
from client.keystore import KeystoreState
from client.maintenance import INITIAL_PREKEYS
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
    server_url: str,
    created: JSON,
    identity: IdentityKeyPair,
    account_key: AccountKeyPair,
    certificate: DeviceCertificate,
    spk: SignedPreKeyPair,
    otks: list[Any],
    secrets: dict[str, str],
) -> KeystoreState:
    now = now_ms()
    return KeystoreState(
        server_url=server_url.rstrip("/"),
        account_id=str(created["account_id"]),
        device_id=str(created["device_id"]),
        role=str(created["role"]),
        identity_seed=b64e(identity.to_bytes()),
        signed_prekeys={str(spk.key_id): b64e(spk.to_bytes())},
        current_signed_prekey=spk.key_id,
        one_time_prekeys={str(k.key_id): b64e(k.to_bytes()) for k in otks},
        next_prekey_id=INITIAL_PREKEYS + 1,
        account_seed=b64e(account_key.to_bytes()),
        certificate=b64e(certificate.to_bytes()),
        account_secrets=secrets,
        signed_prekey_created={str(spk.key_id): now},
    )
