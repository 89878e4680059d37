"""X3DH key agreement, exactly per Signal's "The X3DH Key Agreement Protocol" (rev. 1, 2016-11-04).

Instantiation (docs/PROTOCOL.md, "X3DH"):
    curve X25519 (identity keys are Ed25519, used for DH through their X25519 form), hash SHA-256,
    info "confidant-x3dh-v1", Encode(IK) = 0x06 || Ed25519 public key.
    DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B), DH4 = DH(EK_A, OPK_B) (if any)
    SK = HKDF-SHA256(IKM = F || DH1 || DH2 || DH3 [|| DH4], salt = 32 zero bytes, info, L = 32),
    F = 32 bytes 0xFF
    AD = Encode(IK_A) || Encode(IK_B)

Key agreement returns (initial message, shared secret) and knows nothing about the ratchet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from crypto import primitives as p
from crypto.errors import InvalidKey, UnknownPreKey
from crypto.keys import (
    IdentityKeyPair,
    IdentityPublicKey,
    OneTimePreKeyPair,
    PreKeyBundle,
    SignedPreKeyPair,
    X25519KeyPair,
    X25519PublicKey,
)

__all__ = ["X3DH_F", "X3DH_INFO", "InitialMessage", "SharedSecret", "initiate", "respond"]

X3DH_INFO: Final = b"confidant-x3dh-v1"
X3DH_F: Final = b"\xff" * 32
SHARED_SECRET_SIZE: Final = 32


@dataclass(frozen=True, eq=True)
class InitialMessage:
    """What the initiator sends (inside its first envelopes) so the responder can compute the same secret."""

    identity_key: IdentityPublicKey
    ephemeral_key: X25519PublicKey
    signed_prekey_id: int
    one_time_prekey_id: int | None


@dataclass(frozen=True, eq=False)
class SharedSecret:
    """SK (32 bytes) and the associated data AD; both are secret-ish and never shown."""

    key: bytes
    associated_data: bytes

    def __repr__(self) -> str:
        return "SharedSecret(<hidden>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SharedSecret):
            return NotImplemented
        return p.constant_time_equal(self.key + self.associated_data, other.key + other.associated_data)

    def __hash__(self) -> int:
        return hash(self.associated_data)


def _kdf(dh_outputs: list[bytes]) -> bytes:
    return p.hkdf_sha256(X3DH_F + b"".join(dh_outputs), bytes(32), X3DH_INFO, SHARED_SECRET_SIZE)


def _associated_data(initiator: IdentityPublicKey, responder: IdentityPublicKey) -> bytes:
    return initiator.encode() + responder.encode()


def initiate(
    own_identity: IdentityKeyPair,
    bundle: PreKeyBundle,
    ephemeral: X25519KeyPair | None = None,
) -> tuple[InitialMessage, SharedSecret]:
    """Alice's side. Verifies the bundle's signed-prekey signature first (`BadSignature` on failure).

    `ephemeral` is for known-answer vectors only; normally a fresh key is generated.
    """
    bundle.verify()
    if bundle.identity_key == own_identity.public:
        raise InvalidKey("cannot start a session with one's own identity key")
    ek = ephemeral or X25519KeyPair.generate()
    spk = bundle.signed_prekey.public
    dhs = [
        own_identity.x25519().dh(spk),
        ek.dh(bundle.identity_key.to_x25519()),
        ek.dh(spk),
    ]
    otpk = bundle.one_time_prekey
    if otpk is not None:
        dhs.append(ek.dh(otpk.public))
    message = InitialMessage(
        identity_key=own_identity.public,
        ephemeral_key=ek.public,
        signed_prekey_id=bundle.signed_prekey.key_id,
        one_time_prekey_id=None if otpk is None else otpk.key_id,
    )
    secret = SharedSecret(_kdf(dhs), _associated_data(own_identity.public, bundle.identity_key))
    return message, secret


def respond(
    own_identity: IdentityKeyPair,
    signed_prekey: SignedPreKeyPair,
    one_time_prekey: OneTimePreKeyPair | None,
    message: InitialMessage,
) -> SharedSecret:
    """Bob's side: the same SK and AD from his private keys and Alice's initial message."""
    if signed_prekey.key_id != message.signed_prekey_id:
        raise UnknownPreKey("signed prekey id does not match the message")
    if (one_time_prekey is None) != (message.one_time_prekey_id is None) or (
        one_time_prekey is not None and one_time_prekey.key_id != message.one_time_prekey_id
    ):
        raise UnknownPreKey("one-time prekey does not match the message")
    dhs = [
        signed_prekey.key_pair.dh(message.identity_key.to_x25519()),
        own_identity.x25519().dh(message.ephemeral_key),
        signed_prekey.key_pair.dh(message.ephemeral_key),
    ]
    if one_time_prekey is not None:
        dhs.append(one_time_prekey.key_pair.dh(message.ephemeral_key))
    return SharedSecret(_kdf(dhs), _associated_data(message.identity_key, own_identity.public))
