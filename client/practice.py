"""The practice's rules as this device enforces them before a video session (docs/TRUST.md).

    await check_session_with(device, account_id)   # raises CallRefused, or returns

Two rules, checked by the client (never left to the server, which could be the one attacking):
- A contact whose account key changed and was not accepted or verified is never joined, admitted or
  connected (``reason="key_changed"``).
- When the practice requires verified safety numbers (``GET /practice``, set by an administrator), a
  contact whose safety number this person has not verified is never joined, admitted or connected
  (``reason="unverified"``). A hostile server could serve the setting switched off, so a device that saw it
  on ONCE keeps enforcing it (the profile field ``practice_requires_verified`` of its keystore); the setting
  being off is only believed on a device that never saw it on.
"""

from __future__ import annotations

from client.device import Device
from client.errors import ApiError, CallRefused, TransportError

__all__ = ["check_session_with", "requires_verified"]

REMEMBERED = "practice_requires_verified"  # profile field: the rule was seen on once; never cleared


async def requires_verified(device: Device) -> bool:
    """Whether this device enforces "verified safety numbers before a session": the server's current
    setting, or having ever seen it on (a server that stops answering or says "off" does not lift it)."""
    try:
        settings = await device.api.request("GET", "/practice")
    except (ApiError, TransportError):
        settings = {}
    if settings.get("require_verified_safety_numbers") is True and not device.state.profile.get(REMEMBERED):
        async with device.lock:
            device.state.profile[REMEMBERED] = True
            await device.save()
    return bool(device.state.profile.get(REMEMBERED))


async def check_session_with(device: Device, account_id: str) -> None:
    """Raise ``CallRefused`` unless this device may join, admit or connect a session with ``account_id``.
    Refreshes the contact list first, so a key change the server now shows is seen before anything."""
    await device.contacts()
    if device.trust.is_blocked(account_id):
        raise CallRefused(account_id, "key_changed")
    if await requires_verified(device) and not device.trust.is_verified(account_id):
        raise CallRefused(account_id, "unverified")
