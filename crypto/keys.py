"""Typed keys: identity keys (Ed25519), X25519 key pairs, signed and one-time prekeys, prekey bundles.

Public values are small immutable classes with a `SIZE`, constant-time equality and raw
`to_bytes()`/`from_bytes()`; wire encodings (base64, hex) live in `crypto.encoding`. Secret-holding
classes never show their secret in `repr`. Byte layouts are in docs/PROTOCOL.md, section "Keys".

Bundle layout (`PreKeyBundle.to_bytes`), all integers big-endian:
    identity_key 32 | spk_id u32 | spk_public 32 | spk_signature 64 | has_otpk u8 (0|1) |
    [otpk_id u32 | otpk 32]
"""

from __future__ import annotations

import struct
from typing import ClassVar, Final, Self

from crypto import primitives as p
from crypto.errors import BadSignature, InvalidKey, MalformedEnvelope
from crypto.signed import SIGNED_PREKEY_CONTEXT, signed_prekey_message

__all__ = [
    "KEY_TYPE_ED25519",
    "KEY_TYPE_X25519",
    "SIGNED_PREKEY_CONTEXT",
    "IdentityKeyPair",
    "IdentityPublicKey",
    "OneTimePreKey",
    "OneTimePreKeyPair",
    "PreKeyBundle",
    "SignedPreKey",
    "SignedPreKeyPair",
    "X25519KeyPair",
    "X25519PublicKey",
    "generate_one_time_prekeys",
    "signed_prekey_message",
    "verify_signature",
    "verify_signed_prekey",
]

KEY_TYPE_X25519: Final = 0x05  # Signal's type byte for Curve25519 public keys
KEY_TYPE_ED25519: Final = 0x06  # Confidant's type byte for Ed25519 identity keys
_U32_MAX: Final = 0xFFFFFFFF


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Verify an Ed25519 signature; raise `BadSignature` (or `InvalidKey` for a malformed key).

    Stable entry point for the server (login challenges, consent, signed prekeys, certificates).
    """
    p.ed25519_verify(public_key, message, signature)


def verify_signed_prekey(identity_key: bytes, key_id: int, public: bytes, signature: bytes) -> None:
    """Raise `BadSignature` unless `signature` is `identity_key`'s signature of this signed prekey."""
    verify_signature(identity_key, signed_prekey_message(key_id, public), signature)


def _check_id(key_id: int) -> None:
    if not isinstance(key_id, int) or not 0 <= key_id <= _U32_MAX:
        raise InvalidKey("prekey id must be an unsigned 32-bit integer")


class _PublicValue:
    """A fixed-size public byte string with constant-time equality."""

    SIZE: ClassVar[int] = 32
    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != self.SIZE:
            raise InvalidKey(f"{type(self).__name__} must be {self.SIZE} bytes")
        self._raw = raw

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        return cls(raw)

    def to_bytes(self) -> bytes:
        return self._raw

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _PublicValue)
        return p.constant_time_equal(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._raw))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._raw[:4].hex()}…)"


class X25519PublicKey(_PublicValue):
    SIZE: ClassVar[int] = p.X25519_PUBLIC_SIZE
    __slots__ = ()

    def encode(self) -> bytes:
        """Signal's Encode(PK): type byte 0x05 || 32-byte u-coordinate."""
        return bytes([KEY_TYPE_X25519]) + self._raw


class IdentityPublicKey(_PublicValue):
    """An Ed25519 identity public key; must also map to a valid X25519 key (used for X3DH)."""

    SIZE: ClassVar[int] = p.ED25519_PUBLIC_SIZE
    __slots__ = ("_x25519",)

    def __init__(self, raw: bytes) -> None:
        super().__init__(raw)
        self._x25519 = X25519PublicKey(p.ed25519_public_to_x25519(raw))

    def verify(self, message: bytes, signature: bytes) -> None:
        p.ed25519_verify(self._raw, message, signature)

    def to_x25519(self) -> X25519PublicKey:
        return self._x25519

    def encode(self) -> bytes:
        """Encode(IK) as used in the X3DH associated data: type byte 0x06 || 32-byte Ed25519 key."""
        return bytes([KEY_TYPE_ED25519]) + self._raw


class X25519KeyPair:
    SIZE: ClassVar[int] = p.X25519_SECRET_SIZE
    __slots__ = ("_secret", "public")

    def __init__(self, secret: bytes) -> None:
        self.public = X25519PublicKey(p.x25519_public(secret))
        self._secret = secret

    @classmethod
    def generate(cls) -> X25519KeyPair:
        return cls(p.random_bytes(p.X25519_SECRET_SIZE))

    def secret_bytes(self) -> bytes:
        return self._secret

    def dh(self, public: X25519PublicKey) -> bytes:
        return p.x25519(self._secret, public.to_bytes())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, X25519KeyPair):
            return NotImplemented
        return p.constant_time_equal(self._secret, other._secret)

    def __hash__(self) -> int:
        return hash(self.public)

    def __repr__(self) -> str:
        return f"X25519KeyPair(public={self.public!r}, secret=<hidden>)"


class IdentityKeyPair:
    """A device's Ed25519 identity key, stored as its 32-byte seed."""

    SIZE: ClassVar[int] = p.ED25519_SEED_SIZE
    __slots__ = ("_seed", "_sign_key", "_x25519", "public")

    def __init__(self, seed: bytes) -> None:
        pk, sk = p.ed25519_seed_keypair(seed)
        self._seed = seed
        self._sign_key = sk
        self.public = IdentityPublicKey(pk)
        self._x25519 = X25519KeyPair(p.ed25519_seed_to_x25519(seed))

    @classmethod
    def generate(cls) -> IdentityKeyPair:
        return cls(p.random_bytes(p.ED25519_SEED_SIZE))

    @classmethod
    def from_bytes(cls, seed: bytes) -> IdentityKeyPair:
        return cls(seed)

    def to_bytes(self) -> bytes:
        return self._seed

    def sign(self, message: bytes) -> bytes:
        return p.ed25519_sign(self._sign_key, message)

    def x25519(self) -> X25519KeyPair:
        """The X25519 form of this identity key (for X3DH DH1/DH2 and boxed signaling)."""
        return self._x25519

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdentityKeyPair):
            return NotImplemented
        return p.constant_time_equal(self._seed, other._seed)

    def __hash__(self) -> int:
        return hash(self.public)

    def __repr__(self) -> str:
        return f"IdentityKeyPair(public={self.public!r}, secret=<hidden>)"


class SignedPreKey:
    """Public part of a signed prekey, as published in bundles."""

    __slots__ = ("key_id", "public", "signature")

    def __init__(self, key_id: int, public: X25519PublicKey, signature: bytes) -> None:
        _check_id(key_id)
        if not isinstance(signature, bytes) or len(signature) != p.ED25519_SIGNATURE_SIZE:
            raise BadSignature("signature must be 64 bytes")
        self.key_id, self.public, self.signature = key_id, public, signature

    def verify(self, identity_key: IdentityPublicKey) -> None:
        verify_signed_prekey(identity_key.to_bytes(), self.key_id, self.public.to_bytes(), self.signature)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SignedPreKey):
            return NotImplemented
        return (self.key_id, self.public) == (other.key_id, other.public) and p.constant_time_equal(
            self.signature, other.signature
        )

    def __hash__(self) -> int:
        return hash((self.key_id, self.public))

    def __repr__(self) -> str:
        return f"SignedPreKey(id={self.key_id}, public={self.public!r})"


class SignedPreKeyPair:
    """A signed prekey with its secret (kept on the device). `to_bytes`: id u32 | secret 32 | signature 64."""

    SIZE: ClassVar[int] = 4 + p.X25519_SECRET_SIZE + p.ED25519_SIGNATURE_SIZE
    __slots__ = ("key_id", "key_pair", "signature")

    def __init__(self, key_id: int, key_pair: X25519KeyPair, signature: bytes) -> None:
        _check_id(key_id)
        self.key_id, self.key_pair, self.signature = key_id, key_pair, signature

    @classmethod
    def generate(
        cls, identity: IdentityKeyPair, key_id: int, key_pair: X25519KeyPair | None = None
    ) -> SignedPreKeyPair:
        kp = key_pair or X25519KeyPair.generate()
        return cls(key_id, kp, identity.sign(signed_prekey_message(key_id, kp.public.to_bytes())))

    def public_part(self) -> SignedPreKey:
        return SignedPreKey(self.key_id, self.key_pair.public, self.signature)

    def to_bytes(self) -> bytes:
        return struct.pack(">I", self.key_id) + self.key_pair.secret_bytes() + self.signature

    @classmethod
    def from_bytes(cls, raw: bytes) -> SignedPreKeyPair:
        if len(raw) != cls.SIZE:
            raise InvalidKey("serialised signed prekey has the wrong size")
        (key_id,) = struct.unpack(">I", raw[:4])
        return cls(key_id, X25519KeyPair(raw[4:36]), raw[36:])

    def __repr__(self) -> str:
        return f"SignedPreKeyPair(id={self.key_id}, public={self.key_pair.public!r}, secret=<hidden>)"


class OneTimePreKey:
    __slots__ = ("key_id", "public")

    def __init__(self, key_id: int, public: X25519PublicKey) -> None:
        _check_id(key_id)
        self.key_id, self.public = key_id, public

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OneTimePreKey):
            return NotImplemented
        return (self.key_id, self.public) == (other.key_id, other.public)

    def __hash__(self) -> int:
        return hash((self.key_id, self.public))

    def __repr__(self) -> str:
        return f"OneTimePreKey(id={self.key_id}, public={self.public!r})"


class OneTimePreKeyPair:
    """A one-time prekey with its secret. `to_bytes`: id u32 | secret 32."""

    SIZE: ClassVar[int] = 4 + p.X25519_SECRET_SIZE
    __slots__ = ("key_id", "key_pair")

    def __init__(self, key_id: int, key_pair: X25519KeyPair) -> None:
        _check_id(key_id)
        self.key_id, self.key_pair = key_id, key_pair

    def public_part(self) -> OneTimePreKey:
        return OneTimePreKey(self.key_id, self.key_pair.public)

    def to_bytes(self) -> bytes:
        return struct.pack(">I", self.key_id) + self.key_pair.secret_bytes()

    @classmethod
    def from_bytes(cls, raw: bytes) -> OneTimePreKeyPair:
        if len(raw) != cls.SIZE:
            raise InvalidKey("serialised one-time prekey has the wrong size")
        (key_id,) = struct.unpack(">I", raw[:4])
        return cls(key_id, X25519KeyPair(raw[4:]))

    def __repr__(self) -> str:
        return f"OneTimePreKeyPair(id={self.key_id}, public={self.key_pair.public!r}, secret=<hidden>)"


def generate_one_time_prekeys(start_id: int, count: int) -> list[OneTimePreKeyPair]:
    """`count` fresh one-time prekeys with consecutive ids from `start_id` (wrapping is the caller's job)."""
    return [OneTimePreKeyPair(start_id + i, X25519KeyPair.generate()) for i in range(count)]


class PreKeyBundle:
    """What a device publishes (and the server hands out) so others can start sessions with it."""

    __slots__ = ("identity_key", "one_time_prekey", "signed_prekey")
    _FIXED: ClassVar[int] = 32 + 4 + 32 + 64 + 1

    def __init__(
        self,
        identity_key: IdentityPublicKey,
        signed_prekey: SignedPreKey,
        one_time_prekey: OneTimePreKey | None = None,
    ) -> None:
        self.identity_key = identity_key
        self.signed_prekey = signed_prekey
        self.one_time_prekey = one_time_prekey

    def verify(self) -> None:
        """Raise `BadSignature` unless the signed prekey is signed by the identity key."""
        self.signed_prekey.verify(self.identity_key)

    def to_bytes(self) -> bytes:
        spk = self.signed_prekey
        out = (
            self.identity_key.to_bytes()
            + struct.pack(">I", spk.key_id)
            + spk.public.to_bytes()
            + spk.signature
        )
        if self.one_time_prekey is None:
            return out + b"\x00"
        return (
            out
            + b"\x01"
            + struct.pack(">I", self.one_time_prekey.key_id)
            + self.one_time_prekey.public.to_bytes()
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> PreKeyBundle:
        if len(raw) not in (cls._FIXED, cls._FIXED + 36):
            raise MalformedEnvelope("prekey bundle has the wrong size")
        flag = raw[cls._FIXED - 1]
        if (flag, len(raw)) not in ((0, cls._FIXED), (1, cls._FIXED + 36)):
            raise MalformedEnvelope("prekey bundle one-time prekey flag does not match its size")
        (spk_id,) = struct.unpack(">I", raw[32:36])
        spk = SignedPreKey(spk_id, X25519PublicKey(raw[36:68]), raw[68:132])
        otpk = None
        if flag:
            (otpk_id,) = struct.unpack(">I", raw[133:137])
            otpk = OneTimePreKey(otpk_id, X25519PublicKey(raw[137:169]))
        return cls(IdentityPublicKey(raw[:32]), spk, otpk)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PreKeyBundle):
            return NotImplemented
        return p.constant_time_equal(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"PreKeyBundle({self.identity_key!r}, {self.signed_prekey!r}, {self.one_time_prekey!r})"
