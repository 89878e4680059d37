"""Account keys and device certificates (docs/PROTOCOL.md sections 2 and 16).

An account has one Ed25519 account key, created on its first device and handed to later devices only
through approved linking (`crypto.linking`). It signs a certificate for every device:

    certificate = created_at u64 || signature 64          (72 bytes)
    signature   = Ed25519(account key, certificate_message(account_id, device_id, identity_key, created_at))

Clients encrypt to, call and accept messages from a device only if its certificate verifies under the
account key they pinned or verified; the server verifies it too, but nobody has to trust that.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Final

from crypto import primitives as p
from crypto.errors import BadCertificate, CryptoError, MalformedEnvelope
from crypto.keys import IdentityKeyPair, IdentityPublicKey
from crypto.signed import certificate_message

__all__ = ["CERTIFICATE_SIZE", "AccountKeyPair", "AccountPublicKey", "DeviceCertificate"]

CERTIFICATE_SIZE: Final = 8 + p.ED25519_SIGNATURE_SIZE

# The account key has the same shape as a device identity key (an Ed25519 seed); distinct names say which.
AccountKeyPair = IdentityKeyPair
AccountPublicKey = IdentityPublicKey


@dataclass(frozen=True, slots=True)
class DeviceCertificate:
    """The account key's statement "device `device_id` with `identity_key` belongs to `account_id`"."""

    SIZE: ClassVar[int] = CERTIFICATE_SIZE

    created_at: int  # ms since the Unix epoch
    signature: bytes

    @classmethod
    def issue(
        cls,
        account_key: AccountKeyPair,
        account_id: bytes,
        device_id: bytes,
        identity_key: IdentityPublicKey,
        created_at: int,
    ) -> DeviceCertificate:
        message = certificate_message(account_id, device_id, identity_key.to_bytes(), created_at)
        return cls(created_at, account_key.sign(message))

    def verify(
        self,
        account_key: AccountPublicKey,
        account_id: bytes,
        device_id: bytes,
        identity_key: IdentityPublicKey,
    ) -> None:
        """Raise `BadCertificate` unless this certificate binds exactly these values under `account_key`."""
        try:
            message = certificate_message(account_id, device_id, identity_key.to_bytes(), self.created_at)
            account_key.verify(message, self.signature)
        except CryptoError:
            raise BadCertificate("device certificate does not verify under the account key") from None

    def is_valid(
        self,
        account_key: AccountPublicKey,
        account_id: bytes,
        device_id: bytes,
        identity_key: IdentityPublicKey,
    ) -> bool:
        try:
            self.verify(account_key, account_id, device_id, identity_key)
        except BadCertificate:
            return False
        return True

    def to_bytes(self) -> bytes:
        return struct.pack(">Q", self.created_at) + self.signature

    @classmethod
    def from_bytes(cls, raw: bytes) -> DeviceCertificate:
        if not isinstance(raw, bytes) or len(raw) != CERTIFICATE_SIZE:
            raise MalformedEnvelope("a device certificate is 72 bytes")
        (created_at,) = struct.unpack(">Q", raw[:8])
        return cls(created_at, raw[8:])

    def __repr__(self) -> str:
        return f"DeviceCertificate(created_at={self.created_at})"
