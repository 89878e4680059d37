"""Pairwise ratchet sessions of one device, kept as records of its keystore (client/state.py).

Each peer device has a short list of sessions, the active one first. Both sides may start a session
at the same moment (each sends a prekey message before it has read the other's); like Signal, a device
keeps the previous sessions for a while, tries each on an incoming message, and makes the one that
decrypted active, so the two sides converge on one session without losing a message.

Protocol version 2: a peer device's identity key is known only if its certificate verified under the
account key pinned for its account (client/trust.py fills ``peer_identities``); anything else is an
``UntrustedDevice``. A ``DuplicateMessage`` (or any error other than ``SessionMismatch``) never falls
through to ``Session.accept``, and ``accept`` consults the replay cache of accepted initial messages.

The records hold serialised sessions; the active session of each peer is also kept parsed in memory, next to
the record it was parsed from, so a backlog from one peer parses its session once, not once per message
(parsing converts keys, which costs more than the decryption itself). It is serialised back once per keystore
write, not once per message (``Keystore.before_write``): every write, whoever starts it, takes the session as
it is then, together with the messages it decrypted (staged before any await). Decryption changes a session
only on success, so the parsed copy never holds a failed attempt.
"""

from __future__ import annotations

from client._wire import b64d, b64e
from client.errors import UntrustedDevice
from client.state import MAX_PREVIOUS_SESSIONS, DeviceState
from crypto import (
    CryptoError,
    DecryptionFailed,
    DuplicateMessage,
    EnvelopeType,
    IdentityKeyPair,
    OneTimePreKeyPair,
    PreKeyBundle,
    ReplayCache,
    Session,
    SessionMismatch,
    SignedPreKeyPair,
    WrongRecipient,
    WrongSender,
)
from crypto.envelope import addressing

__all__ = ["SessionBook"]


class SessionBook:
    def __init__(self, state: DeviceState, identity: IdentityKeyPair) -> None:
        self.state = state
        self.identity = identity
        self.own_device = bytes.fromhex(state.device_id)
        # peer device id -> (its active session's record, that record parsed and possibly advanced since)
        self._live: dict[str, tuple[str, Session]] = {}
        self._unsaved: set[str] = set()  # peers whose live session advanced past its record
        state.keystore.before_write(self._save_live)

    def pinned(self, device_id: str) -> bytes | None:
        """The certified identity key of a peer device (None: not certified, never used)."""
        raw = self.state.peer_identities.get(device_id)
        return b64d(raw) if raw is not None else None

    # -- sessions ------

    def has_session(self, device_id: str) -> bool:
        return bool(self.state.sessions.get(device_id))

    def drop(self, device_id: str) -> None:
        self.state.sessions.pop(device_id, None)
        self._live.pop(device_id, None)
        self._unsaved.discard(device_id)

    def start(self, account_id: str, device_id: str, bundle: PreKeyBundle) -> None:
        """Start a session from a bundle (signature verified) and make it active."""
        if self.pinned(device_id) != bundle.identity_key.to_bytes():
            raise UntrustedDevice(account_id, device_id)
        session = Session.initiate(self.identity, self.own_device, bytes.fromhex(device_id), bundle)
        self._push(device_id, session)

    def encrypt(self, device_id: str, plaintext: bytes) -> tuple[str, bytes]:
        """Encrypt with the active session: (``"prekey"`` | ``"message"``, envelope bytes)."""
        raw = self.state.sessions[device_id][0]
        session = self._parsed(device_id, raw)
        wire = session.encrypt(plaintext)
        self._advanced(device_id, raw, session)
        return addressing(wire).type.wire_name, wire

    def decrypt(self, from_account: str, from_device: str, wire: bytes) -> bytes:
        """Decrypt an envelope routed as from ``from_device``; state changes only on success."""
        info = addressing(wire)  # the rest is validated by the session's decrypt (or accept) below
        if info.recipient_device != self.own_device:
            raise WrongRecipient("envelope is addressed to another device")
        if info.sender_device.hex() != from_device:
            raise WrongSender("envelope sender does not match the server's routing")
        pinned = self.state.peer_identities.get(from_device)  # decoded only if a new session needs it
        if pinned is None or self.state.device_accounts.get(from_device) != from_account:
            raise UntrustedDevice(from_account, from_device)
        states = list(self.state.sessions.get(from_device, []))
        refusal: CryptoError | None = None
        for index, raw in enumerate(states):
            session = self._parsed(from_device, raw) if index == 0 else Session.from_bytes(b64d(raw))
            try:
                plaintext = session.decrypt(wire)
            except DuplicateMessage:
                raise  # already read: never a reason to start a new session
            except SessionMismatch:
                continue
            except CryptoError as exc:
                refusal = exc  # probably another session's message; refused if none decrypts
                continue
            if index == 0:
                self._advanced(from_device, raw, session)
            else:  # a previous session decrypted: it becomes active, the active one (as it is now) moves down
                states = self._states(from_device)
                del states[index]
                states.insert(0, self._keep(from_device, session))
                self.state.sessions[from_device] = states
            return plaintext
        if info.type is not EnvelopeType.PREKEY:
            raise refusal or DecryptionFailed("no session decrypts this message")
        if refusal is not None:
            raise refusal  # a prekey message of a known session that failed: not a new session
        cache = (
            ReplayCache.from_bytes(b64d(self.state.replay_cache))
            if self.state.replay_cache
            else ReplayCache()
        )
        session, plaintext, used = Session.accept(
            self.identity,
            self.own_device,
            self._signed_prekey,
            self._one_time_prekey,
            wire,
            replay_cache=cache,
        )
        if session.peer_identity_key.to_bytes() != b64d(pinned):
            raise UntrustedDevice(from_account, from_device)
        self.state.replay_cache = b64e(cache.to_bytes())
        self._push(from_device, session)
        if used is not None:
            self.state.one_time_prekeys.pop(str(used), None)
            self.state.claimed_prekeys.pop(str(used), None)
        return plaintext

    def _push(self, device_id: str, session: Session) -> None:
        states = [self._keep(device_id, session), *self._states(device_id)]
        self.state.sessions[device_id] = states[: 1 + MAX_PREVIOUS_SESSIONS]

    def _parsed(self, device_id: str, raw: str) -> Session:
        """The active session of ``device_id`` stored as ``raw``: the parsed copy if it is of this record."""
        live = self._live.get(device_id)
        if live is not None and live[0] == raw:
            return live[1]
        return Session.from_bytes(b64d(raw))

    def _keep(self, device_id: str, session: Session) -> str:
        """Serialise ``session`` as the new active record of ``device_id`` and keep it parsed."""
        self._unsaved.discard(device_id)
        return self._keep_raw(device_id, session)

    def _advanced(self, device_id: str, raw: str, session: Session) -> None:
        """The active session (record ``raw``) changed: kept parsed, serialised at the next write."""
        self._live[device_id] = (raw, session)
        self._unsaved.add(device_id)

    def _states(self, device_id: str) -> list[str]:
        """The records of ``device_id``, the active one serialised as it is now."""
        states = list(self.state.sessions.get(device_id, []))
        live = self._live.get(device_id)
        if device_id in self._unsaved and live is not None and states and states[0] == live[0]:
            states[0] = self._keep_raw(device_id, live[1])
        self._unsaved.discard(device_id)
        return states

    def _save_live(self) -> None:
        # Before a write: stage each advanced session as its peer's active record, unless the record was
        # replaced or dropped meanwhile (trust.py drops the sessions of a re-certified device).
        for device_id in self._unsaved:
            live = self._live.get(device_id)
            states = self.state.sessions.get(device_id)
            if live is None or not states or states[0] != live[0]:
                continue
            self.state.sessions[device_id] = [self._keep_raw(device_id, live[1]), *states[1:]]
        self._unsaved.clear()

    def _keep_raw(self, device_id: str, session: Session) -> str:
        raw = b64e(session.to_bytes())
        self._live[device_id] = (raw, session)
        return raw

    def _signed_prekey(self, key_id: int) -> SignedPreKeyPair | None:
        raw = self.state.signed_prekeys.get(str(key_id))
        return SignedPreKeyPair.from_bytes(b64d(raw)) if raw is not None else None

    def _one_time_prekey(self, key_id: int) -> OneTimePreKeyPair | None:
        raw = self.state.one_time_prekeys.get(str(key_id))
        return OneTimePreKeyPair.from_bytes(b64d(raw)) if raw is not None else None
