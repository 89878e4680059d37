"""Re-creating a device from the recovery key, after the person lost every device (docs/PROTOCOL.md 22.5).

    device = await restore_device(server_url, "DXRQ-Y13W-...", keystore_path, passphrase)

The recovery backup holds the account secrets and the account key seed. This device opens it, draws its own
identity key and device id, certifies them with the restored account key (like the first device of an
account does), and registers with ``POST /recovery/device``: the server adds it only with the recovery
key's authenticator and a certificate that verifies under the account key it already stores. Then the
vault (notes, names, history records) syncs like on any device. What does not come back: sessions (new ones
start on the next message) and which contacts were verified (contacts are pinned again on first use).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from client._enrol import new_state
from client._keys import device_payload
from client._wire import b64e, new_id, now_ms
from client.api import ApiClient
from client.device import Device
from client.keystore import Keystore
from client.maintenance import INITIAL_PREKEYS
from client.state import DeviceState
from client.vault import fetch_recovery
from crypto import (
    AccountKeyPair,
    DeviceCertificate,
    IdentityKeyPair,
    SignedPreKeyPair,
    generate_one_time_prekeys,
)
from crypto import vault as vc

__all__ = ["RecoveryIncomplete", "restore_device"]


class RecoveryIncomplete(Exception):
    """The backup has no account key seed (made before backups carried it): make a new recovery key on a
    device of the account, if one is left; otherwise the account cannot be re-created."""


async def restore_device(
    server_url: str,
    recovery_key: str,
    keystore_path: Path | str,
    passphrase: str,
    *,
    kdf: str = "interactive",
    connect: bool = True,
    source_host: str | None = None,
    **opts: Any,
) -> Device:
    """A new device of the account whose recovery key this is. ``InvalidKey`` (crypto) for a mistyped key,
    ApiError ``not_found`` for a wrong one, ``rate_limited`` after too many tries."""
    recovered = await fetch_recovery(server_url, recovery_key)
    seed = recovered.secrets.get(vc.SECRET_ACCOUNT_SEED)
    if seed is None:
        raise RecoveryIncomplete("this recovery key's backup does not hold the account key")
    account_key = AccountKeyPair(seed)
    identity, device_id = IdentityKeyPair.generate(), new_id()
    certificate = DeviceCertificate.issue(
        account_key, bytes.fromhex(recovered.account_id), bytes.fromhex(device_id), identity.public, now_ms()
    )
    spk = SignedPreKeyPair.generate(identity, 1)
    otks = generate_one_time_prekeys(1, INITIAL_PREKEYS)
    derived = vc.derive_recovery(vc.parse_recovery_key(recovery_key))
    keystore = await asyncio.to_thread(Keystore.create, Path(keystore_path), passphrase, kdf=kdf)
    created: dict[str, Any] | None = None
    try:
        async with ApiClient(server_url, source_host=source_host) as api:
            created = await api.request(
                "POST",
                "/recovery/device",
                {
                    "lookup_id": derived.lookup_id.hex(),
                    "authenticator": b64e(derived.authenticator),
                    "device": device_payload(device_id, identity, certificate, spk, otks),
                },
                auth=False,
            )
        # The seed lives in the keystore's own field; the other secrets (the vault key...) as on any device.
        secrets = {str(k): b64e(v) for k, v in recovered.secrets.items() if k != vc.SECRET_ACCOUNT_SEED}
        state = DeviceState(keystore)
        new_state(state, server_url, created, identity, account_key, certificate, spk, otks, secrets)
        await keystore.commit()
    except BaseException:
        await keystore.close()
        if created is None:  # nothing registered: leave no keystore behind, a retry starts clean
            keystore.remove_files()
        raise
    device = Device(keystore, source_host=source_host, **opts)
    await device.start(connect=connect)
    return device
