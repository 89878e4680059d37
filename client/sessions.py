"""Pairwise ratchet sessions of one device, kept as records of its keystore (client/state.py).

Each peer device has a short list of sessions, the active one first. Both sides may start a session
at the same moment (each sends a prekey message before it has read the other's); like Signal, a device
keeps the previous sessions for a while, tries each on an incoming message, and makes the one that
decrypted active, so the two sides converge on one session without losing a message.

Identity keys are pinned per device on first sight (preferably from the server's device listing, which
the caller refreshes first); an envelope or bundle presenting another key raises :class:`KeyChanged` and
nothing from it is accepted.
"""

from __future__ import annotations

from client._wire import b64d, b64e
from client.errors import KeyChanged
from client.state import MAX_PREVIOUS_SESSIONS, DeviceState
from crypto import (
    CryptoError,
    DecryptionFailed,
    EnvelopeType,
    IdentityKeyPair,
    OneTimePreKeyPair,
    PreKeyBundle,
    Session,
    SignedPreKeyPair,
    WrongRecipient,
    WrongSender,
    peek_envelope,
)

__all__ = ["SessionBook"]


class SessionBook:
    def __init__(self, state: DeviceState, identity: IdentityKeyPair) -> None:
        self.state = state
        self.identity = identity
        self.own_device = bytes.fromhex(state.device_id)

    # -- identity pinning ------

    def pinned(self, device_id: str) -> bytes | None:
        raw = self.state.peer_identities.get(device_id)
        return b64d(raw) if raw is not None else None

    def check_pin(self, device_id: str, account_id: str, identity_key: bytes) -> None:
        """Pin on first sight; raise ``KeyChanged`` if the device presents another key than the pinned one."""
        pinned = self.pinned(device_id)
        if pinned is None:
            self.state.peer_identities[device_id] = b64e(identity_key)
            self.state.device_accounts[device_id] = account_id
            return
        if pinned != identity_key:
            self.state.key_changes.append({"account_id": account_id, "device_id": device_id})
            raise KeyChanged(account_id, device_id)

    def trust(self, device_id: str, identity_key: bytes) -> None:
        """Accept a changed key after the user verified it: re-pin and forget the old sessions."""
        self.state.peer_identities[device_id] = b64e(identity_key)
        self.drop(device_id)

    # -- sessions ------

    def has_session(self, device_id: str) -> bool:
        return bool(self.state.sessions.get(device_id))

    def drop(self, device_id: str) -> None:
        self.state.sessions.pop(device_id, None)

    def start(self, account_id: str, device_id: str, bundle: PreKeyBundle) -> None:
        """Start a session from a bundle (signature verified) and make it active."""
        self.check_pin(device_id, account_id, bundle.identity_key.to_bytes())
        session = Session.initiate(self.identity, self.own_device, bytes.fromhex(device_id), bundle)
        self._push(device_id, session)

    def encrypt(self, device_id: str, plaintext: bytes) -> tuple[str, bytes]:
        """Encrypt with the active session: (``"prekey"`` | ``"message"``, envelope bytes)."""
        states = list(self.state.sessions[device_id])
        session = Session.from_bytes(b64d(states[0]))
        wire = session.encrypt(plaintext)
        states[0] = b64e(session.to_bytes())
        self.state.sessions[device_id] = states  # assigned, not changed in place: stages the record
        return peek_envelope(wire).type.wire_name, wire

    def decrypt(self, from_account: str, from_device: str, wire: bytes) -> bytes:
        """Decrypt an envelope routed as from ``from_device``; state changes only on success."""
        info = peek_envelope(wire)
        if info.recipient_device != self.own_device:
            raise WrongRecipient("envelope is addressed to another device")
        if info.sender_device.hex() != from_device:
            raise WrongSender("envelope sender does not match the server's routing")
        states = list(self.state.sessions.get(from_device, []))
        for index, raw in enumerate(states):
            session = Session.from_bytes(b64d(raw))
            try:
                plaintext = session.decrypt(wire)
            except CryptoError:
                continue
            del states[index]
            states.insert(0, b64e(session.to_bytes()))
            self.state.sessions[from_device] = states
            return plaintext
        if info.type is not EnvelopeType.PREKEY:
            raise DecryptionFailed("no session decrypts this message")
        session, plaintext, used = Session.accept(
            self.identity, self.own_device, self._signed_prekey, self._one_time_prekey, wire
        )
        self.check_pin(from_device, from_account, session.peer_identity_key.to_bytes())
        self._push(from_device, session)
        if used is not None:
            self.state.one_time_prekeys.pop(str(used), None)
        return plaintext

    def _push(self, device_id: str, session: Session) -> None:
        states = [b64e(session.to_bytes()), *self.state.sessions.get(device_id, [])]
        self.state.sessions[device_id] = states[: 1 + MAX_PREVIOUS_SESSIONS]

    def _signed_prekey(self, key_id: int) -> SignedPreKeyPair | None:
        raw = self.state.signed_prekeys.get(str(key_id))
        return SignedPreKeyPair.from_bytes(b64d(raw)) if raw is not None else None

    def _one_time_prekey(self, key_id: int) -> OneTimePreKeyPair | None:
        raw = self.state.one_time_prekeys.get(str(key_id))
        return OneTimePreKeyPair.from_bytes(b64d(raw)) if raw is not None else None
