"""The replay cache of accepted X3DH initial messages (docs/PROTOCOL.md section 19).

    replay_key = SHA-256("confidant-replay-v2" || IK_A 32 || EK_A 32)

A device records the key of every initial message it accepts under the signed prekey id the message
used, in the same write that stores the new session, and refuses a recorded one with `ReplayedMessage`.
Entries live exactly as long as the signed prekey's secret: once that is deleted, a replay fails with
`UnknownPreKey` anyway. So a relay that replays a prekey message (one without a one-time prekey, the only
kind that could otherwise be accepted twice) cannot start a second session.

Serialised (`to_bytes`): version u8 = 2 | count u32 | count x (spk_id u32 | replay_key 32), oldest first.
"""

from __future__ import annotations

import struct
from typing import Final

from crypto import primitives as p
from crypto.errors import MalformedState, ReplayedMessage, UnsupportedVersion
from crypto.limits import MAX_REPLAY_ENTRIES
from crypto.x3dh import InitialMessage

__all__ = ["REPLAY_CONTEXT", "ReplayCache", "replay_key"]

REPLAY_CONTEXT: Final = b"confidant-replay-v2"
_VERSION: Final = 2
_ENTRY: Final = 4 + 32


def replay_key(initial: InitialMessage) -> bytes:
    return p.sha256(REPLAY_CONTEXT + initial.identity_key.to_bytes() + initial.ephemeral_key.to_bytes())


class ReplayCache:
    """Accepted initial messages, grouped by the signed prekey they used (insertion ordered)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[bytes, int] = {}  # replay key -> signed prekey id

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, initial: object) -> bool:
        return isinstance(initial, InitialMessage) and replay_key(initial) in self._entries

    def check(self, initial: InitialMessage) -> None:
        """Raise `ReplayedMessage` if this initial message was already accepted."""
        if replay_key(initial) in self._entries:
            raise ReplayedMessage("this session start was already accepted")

    def record(self, initial: InitialMessage) -> None:
        self._entries[replay_key(initial)] = initial.signed_prekey_id
        if len(self._entries) > MAX_REPLAY_ENTRIES:
            oldest_spk = next(iter(self._entries.values()))
            self.forget_signed_prekey(oldest_spk)

    def forget_signed_prekey(self, spk_id: int) -> None:
        """The signed prekey's secret is deleted: its entries are no longer needed."""
        self._entries = {k: v for k, v in self._entries.items() if v != spk_id}

    def to_bytes(self) -> bytes:
        out = bytearray(struct.pack(">BI", _VERSION, len(self._entries)))
        for key, spk_id in self._entries.items():
            out += struct.pack(">I", spk_id) + key
        return bytes(out)

    @classmethod
    def from_bytes(cls, raw: bytes) -> ReplayCache:
        if len(raw) < 5:
            raise MalformedState("replay cache is too short")
        version, count = struct.unpack(">BI", raw[:5])
        if version != _VERSION:
            raise UnsupportedVersion(f"replay cache version {version} is not supported")
        if count > MAX_REPLAY_ENTRIES or len(raw) != 5 + count * _ENTRY:
            raise MalformedState("replay cache has the wrong size")
        cache = cls()
        for i in range(count):
            at = 5 + i * _ENTRY
            (spk_id,) = struct.unpack(">I", raw[at : at + 4])
            cache._entries[raw[at + 4 : at + _ENTRY]] = spk_id
        return cache
