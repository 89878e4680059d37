"""Names (docs/PROTOCOL.md section 23): the display name an account sends end to end to its contacts, and
the names it gives its contacts itself, both kept in its vault so every device of the account shows them.

- **Display name**: the PROFILE record of the vault; sent to each contact as a ``profile`` payload inside
  the E2EE message (client/payload.py) when it changes and to each new contact. The server never sees it.
- **A contact's own name** (what this person typed, e.g. a therapist's name for a client): a CONTACT record
  ``{"account_id", "name"}``. Before the client exists, the name typed at invitation time is kept as
  ``{"invitation_id", "name"}`` and bound to the account that redeems the invitation
  (``{"account_id", "invitation_id", "name"}``).
- **A contact's display name as received**: a CONTACT record ``{"account_id", "display_name"}``.

Which name is shown: the person's own name for the contact always wins over what the contact sent.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crypto.limits import MAX_NAME_CHARS

__all__ = ["InvalidName", "Names", "Profile", "check_name"]

# Characters that reorder or hide text (a name that renders as another name): bidi controls and the BOM.
_HIDDEN = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})  # control characters, line and paragraph separators


class InvalidName(ValueError):
    """A name that is empty, too long, or holds characters that would hide or reorder what is shown."""


def check_name(name: object) -> str:
    """The name unchanged if valid (1..MAX_NAME_CHARS code points, not only spaces, no control, line-break
    or bidi characters), else InvalidName with a sentence for the person."""
    if not isinstance(name, str):
        raise InvalidName("a name must be text")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidName(f"a name is at most {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES or c in _HIDDEN for c in name):
        raise InvalidName("a name cannot contain line breaks, control or text-direction characters")
    if all(unicodedata.category(c) == "Zs" for c in name):
        raise InvalidName("a name cannot be empty")
    return name


@dataclass(frozen=True, slots=True)
class Profile:
    """The body of a ``profile`` payload: the sender's display name (docs/PROTOCOL.md section 23)."""

    display_name: str


class Names:
    """The names an SDK device shows, from its vault and the profiles its contacts sent.

    ``device`` is a ``client.device.Device`` and ``vault`` its ``client.vault.Vault`` (typed loosely: both
    import this module's payload)."""

    def __init__(self, device: Any, vault: Any) -> None:
        self._device = device
        self._vault = vault

    def name_of(self, account_id: str) -> str | None:
        """The person's own name for the contact, else the display name the contact sent, else None."""
        own = self._vault.contact_names().get(account_id)
        if own:
            return str(own)
        sent = self._vault.contact_display_names().get(account_id)
        if sent:
            return str(sent)
        received = self._device.contact_display_name(account_id)
        return None if received is None else str(received)

    async def set_display_name(self, name: str, contacts: Iterable[str]) -> None:
        """Store the display name in the vault, then send it end to end to each of ``contacts``."""
        await self._vault.set_display_name(check_name(name))
        for account_id in contacts:
            await self.send_profile(account_id)

    async def send_profile(self, account_id: str) -> bool:
        """Send this account's display name to one contact (a new contact, or after a change); False when
        no display name is set."""
        name = self._vault.display_name()
        if not name:
            return False
        await self._device.send(account_id, Profile(name))
        return True

    async def keep_received(self) -> int:
        """Copy the display names contacts sent to this device into the vault (so the account's other
        devices show them too); returns how many records were written."""
        stored = self._vault.contact_display_names()
        written = 0
        for account_id, name in self._device.received_display_names().items():
            if stored.get(account_id) != name:
                await self._vault.remember_display_name(account_id, name)
                written += 1
        return written
