"""When therapy ends, from the SDK: erase one's own account, an administrator's erasure, a discharge.

Kept out of ``client.device`` (one concept per module): these take an open ``Device``. The signed message
is the one the server checks (server/services/erasure.py) and the browser builds (web-client/src/app/
ending.js), pinned by tests/vectors/erase_account.json.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from client._wire import b64d, b64e

if TYPE_CHECKING:
    from client.device import Device

__all__ = ["ERASE_CONTEXT", "discharge", "erase_account_as_admin", "erase_message", "erase_own_account"]

ERASE_CONTEXT = b"confidant-erase-account-v1"


def erase_message(nonce: bytes, account_id: str, device_id: str) -> bytes:
    return ERASE_CONTEXT + nonce + bytes.fromhex(account_id) + bytes.fromhex(device_id)


async def erase_own_account(device: Device) -> None:
    """Erase the device's account on the server, confirmed by this device's identity key; then close.

    The local keystore (and its message history) is left for the caller to keep or delete."""
    challenge = await device.api.request("POST", "/me/erasure-challenge")
    nonce = b64d(str(challenge["nonce"]))
    signature = device.identity.sign(erase_message(nonce, device.account_id, device.device_id))
    await device.api.request("POST", "/me/erase", {"nonce": b64e(nonce), "signature": b64e(signature)})
    await device.close()


async def erase_account_as_admin(admin: Device, account_id: str) -> None:
    await admin.api.request("DELETE", f"/admin/accounts/{account_id}")


async def discharge(therapist: Device, client_id: str) -> None:
    """End the link with a client: messaging and sessions stop; re-linking needs a new invitation."""
    await therapist.api.request("DELETE", f"/links/{client_id}")
