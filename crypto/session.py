"""The pairwise session API, implemented identically by the Python SDK and the browser.

    alice = Session.initiate(alice_identity, alice_device, bob_device, bob_bundle)
    wire = alice.encrypt(b"hi")                 # prekey messages until Alice first decrypts from Bob
    bob, plaintext, used_otpk = Session.accept(bob_identity, bob_device, spk_lookup, otpk_lookup, wire)
    # Bob deletes one-time prekey `used_otpk` now, then persists `bob.to_bytes()`.

Every decrypt is transactional: on any error the session is exactly as before (compare `to_bytes()`).
`accept` does not check that `peer_identity_key` is the key the app expects for the sender device:
the caller must (and warn the user on a change).

State layout (`to_bytes`, version 1, integers big-endian):
    version u8 = 1 | own_device 16 | peer_device 16 | peer_identity 32 | ad 66 | flags u8
    (bit0 pending initial message, bit1 remote base key) | [initial message 73] | [remote base key 32] |
    ratchet_len u32 | ratchet state (crypto.ratchet layout)
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from crypto import x3dh
from crypto.envelope import (
    INITIAL_MESSAGE_SIZE,
    Envelope,
    EnvelopeInfo,
    EnvelopeType,
    decode_initial_message,
    encode_binding,
    encode_initial_message,
    parse,
    peek,
)
from crypto.errors import (
    CryptoError,
    MalformedState,
    SessionMismatch,
    TooLarge,
    UnknownPreKey,
    UnsupportedVersion,
    WrongRecipient,
    WrongSender,
)
from crypto.keys import (
    IdentityKeyPair,
    IdentityPublicKey,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKeyPair,
    X25519KeyPair,
    X25519PublicKey,
)
from crypto.limits import DEVICE_ID_BYTES, MAX_PLAINTEXT_BYTES
from crypto.padding import pad, unpad
from crypto.ratchet import DoubleRatchet
from crypto.replay import ReplayCache

__all__ = ["SESSION_VERSION", "Session", "peek_envelope"]

SESSION_VERSION: Final = 1
_AD_SIZE: Final = 66

SignedPreKeyLookup = Callable[[int], SignedPreKeyPair | None]
OneTimePreKeyLookup = Callable[[int], OneTimePreKeyPair | None]


def peek_envelope(envelope: bytes) -> EnvelopeInfo:
    """Type, sender and recipient device of an envelope, without decrypting it."""
    return peek(envelope)


class Session:
    __slots__ = (
        "_ad",
        "_pending",
        "_ratchet",
        "_remote_base",
        "own_device_id",
        "peer_device_id",
        "peer_identity_key",
    )

    def __init__(
        self,
        own_device_id: bytes,
        peer_device_id: bytes,
        peer_identity_key: IdentityPublicKey,
        ad: bytes,
        ratchet: DoubleRatchet,
        pending: x3dh.InitialMessage | None,
        remote_base: X25519PublicKey | None,
    ) -> None:
        for device_id in (own_device_id, peer_device_id):
            if len(device_id) != DEVICE_ID_BYTES:
                raise CryptoError(f"device ids are {DEVICE_ID_BYTES} bytes")
        self.own_device_id = own_device_id
        self.peer_device_id = peer_device_id
        self.peer_identity_key = peer_identity_key
        self._ad = ad
        self._ratchet = ratchet
        self._pending = pending
        self._remote_base = remote_base

    @classmethod
    def initiate(
        cls,
        own_identity: IdentityKeyPair,
        own_device_id: bytes,
        peer_device_id: bytes,
        bundle: PreKeyBundle,
        *,
        ephemeral: X25519KeyPair | None = None,
        ratchet_key: X25519KeyPair | None = None,
    ) -> Session:
        """Start a session from the peer's bundle (signature verified: `BadSignature`).

        `ephemeral` (X3DH EK_A) and `ratchet_key` (Alice's first ratchet key) are for vectors only.
        """
        message, secret = x3dh.initiate(own_identity, bundle, ephemeral)
        ratchet = DoubleRatchet.init_alice(secret.key, bundle.signed_prekey.public, ratchet_key)
        return cls(
            own_device_id, peer_device_id, bundle.identity_key, secret.associated_data, ratchet, message, None
        )

    @classmethod
    def accept(
        cls,
        own_identity: IdentityKeyPair,
        own_device_id: bytes,
        signed_prekey_lookup: SignedPreKeyLookup,
        one_time_prekey_lookup: OneTimePreKeyLookup,
        envelope: bytes,
        *,
        ratchet_key: X25519KeyPair | None = None,
        replay_cache: ReplayCache | None = None,
    ) -> tuple[Session, bytes, int | None]:
        """Start a session from a received prekey message: (session, plaintext, used one-time prekey id).

        With `replay_cache`, an initial message already accepted raises `ReplayedMessage` before any
        secret is used, and a successful accept records it there (persist the cache with the session).
        The caller deletes the used one-time prekey after persisting the session.
        """
        env = parse(envelope)
        if env.recipient_device != own_device_id:
            raise WrongRecipient("envelope is addressed to another device")
        if env.initial_message is None:
            raise SessionMismatch("a session can only be started from a prekey message")
        im = env.initial_message
        if replay_cache is not None:
            replay_cache.check(im)
        spk = signed_prekey_lookup(im.signed_prekey_id)
        if spk is None:
            raise UnknownPreKey(f"no signed prekey with id {im.signed_prekey_id}")
        otpk = None
        if im.one_time_prekey_id is not None:
            otpk = one_time_prekey_lookup(im.one_time_prekey_id)
            if otpk is None:
                raise UnknownPreKey(f"no one-time prekey with id {im.one_time_prekey_id}")
        secret = x3dh.respond(own_identity, spk, otpk, im)
        ratchet = DoubleRatchet.init_bob(secret.key, spk.key_pair)
        session = cls(
            own_device_id,
            env.sender_device,
            im.identity_key,
            secret.associated_data,
            ratchet,
            None,
            im.ephemeral_key,
        )
        plaintext = session._decrypt_parsed(env, ratchet_key)
        if replay_cache is not None:
            replay_cache.record(im)
        return session, plaintext, im.one_time_prekey_id

    @property
    def sends_prekey_messages(self) -> bool:
        """True until the first message from the peer has been decrypted (initiator only)."""
        return self._pending is not None

    def encrypt(self, plaintext: bytes) -> bytes:
        """Pad, encrypt and encode one message; returns the envelope bytes."""
        if len(plaintext) > MAX_PLAINTEXT_BYTES:
            raise TooLarge(f"plaintext exceeds {MAX_PLAINTEXT_BYTES} bytes")
        type_ = EnvelopeType.MESSAGE if self._pending is None else EnvelopeType.PREKEY
        binding = encode_binding(type_, self.own_device_id, self.peer_device_id, self._pending)
        header, ciphertext = self._ratchet.encrypt(pad(plaintext), self._ad + binding)
        return binding + header.to_bytes() + ciphertext

    def decrypt(self, envelope: bytes, *, ratchet_key: X25519KeyPair | None = None) -> bytes:
        """Decrypt one envelope from the peer; the state is unchanged on any error.

        `ratchet_key` is the key used if this message starts a new DH ratchet step (vectors only).
        """
        env = parse(envelope)
        if env.recipient_device != self.own_device_id:
            raise WrongRecipient("envelope is addressed to another device")
        if env.sender_device != self.peer_device_id:
            raise WrongSender("envelope is from another device than this session's peer")
        if env.initial_message is not None and (
            self._remote_base is None
            or env.initial_message.ephemeral_key != self._remote_base
            or env.initial_message.identity_key != self.peer_identity_key
        ):
            raise SessionMismatch("prekey message belongs to another session: use Session.accept")
        return self._decrypt_parsed(env, ratchet_key)

    def _decrypt_parsed(self, env: Envelope, ratchet_key: X25519KeyPair | None) -> bytes:
        ratchet = self._ratchet.copy()
        padded = ratchet.decrypt(env.header, env.ciphertext, self._ad + env.binding(), ratchet_key)
        plaintext = unpad(padded)
        self._ratchet = ratchet
        self._pending = None
        return plaintext

    def to_bytes(self) -> bytes:
        flags = (self._pending is not None) | (self._remote_base is not None) << 1
        parts = [
            bytes([SESSION_VERSION]),
            self.own_device_id,
            self.peer_device_id,
            self.peer_identity_key.to_bytes(),
            self._ad,
            bytes([flags]),
        ]
        if self._pending is not None:
            parts.append(encode_initial_message(self._pending))
        if self._remote_base is not None:
            parts.append(self._remote_base.to_bytes())
        ratchet = self._ratchet.to_bytes()
        parts += [struct.pack(">I", len(ratchet)), ratchet]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Session:
        if not raw:
            raise MalformedState("session state is empty")
        if raw[0] != SESSION_VERSION:
            raise UnsupportedVersion(f"session state version {raw[0]} is not supported")
        fixed = 1 + 16 + 16 + 32 + _AD_SIZE + 1
        if len(raw) < fixed + 4:
            raise MalformedState("session state is truncated")
        own, peer, ik_raw, ad, flags = raw[1:17], raw[17:33], raw[33:65], raw[65:131], raw[131]
        if flags & ~0x03:
            raise MalformedState("unknown session state flags")
        pos = fixed
        try:
            peer_ik = IdentityPublicKey(ik_raw)
            pending = remote = None
            if flags & 1:
                pending = decode_initial_message(raw[pos : pos + INITIAL_MESSAGE_SIZE])
                pos += INITIAL_MESSAGE_SIZE
            if flags & 2:
                remote = X25519PublicKey(raw[pos : pos + 32])
                pos += 32
        except CryptoError:
            raise MalformedState("session state holds an invalid key") from None
        if len(raw) < pos + 4:
            raise MalformedState("session state is truncated")
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        if len(raw) != pos + 4 + length:
            raise MalformedState("session state length mismatch")
        ratchet = DoubleRatchet.from_bytes(raw[pos + 4 :])
        return cls(own, peer, peer_ik, ad, ratchet, pending, remote)

    def __repr__(self) -> str:
        return f"Session(own={self.own_device_id.hex()}, peer={self.peer_device_id.hex()}, state=<hidden>)"
