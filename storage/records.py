"""Plain values that cross the storage boundary. Ids are 32-char lowercase hex strings,
keys/signatures/ciphertext are bytes, times are integer milliseconds since the epoch."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "Account",
    "Bundle",
    "Consent",
    "ConsentState",
    "Device",
    "Invitation",
    "Link",
    "MailboxItem",
    "NewDevice",
    "NewEnvelope",
    "NewSend",
    "OneTimePrekey",
    "Role",
    "SendOutcome",
    "SignedPrekey",
    "Terms",
    "TokenRecord",
]


class Role(str, Enum):  # noqa: UP042 (str mixin: roles compare equal to their wire strings)
    CLIENT = "client"
    THERAPIST = "therapist"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    role: Role
    created_at: int
    disabled: bool
    account_key: bytes = b""  # Ed25519 public account key (protocol v2); certifies every device


@dataclass(frozen=True, slots=True)
class SignedPrekey:
    id: int
    public: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class OneTimePrekey:
    id: int
    public: bytes


@dataclass(frozen=True, slots=True)
class NewDevice:
    """A device as registered: its public identity plus its first prekeys."""

    device_id: str
    identity_key: bytes
    signed_prekey: SignedPrekey
    one_time_prekeys: tuple[OneTimePrekey, ...]
    certificate: bytes = b""  # created_at u64 || account-key signature (docs/PROTOCOL.md section 16)


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    account_id: str
    identity_key: bytes
    signed_prekey: SignedPrekey
    created_at: int
    revoked_at: int | None
    certificate: bytes = b""  # created_at u64 || account-key signature (docs/PROTOCOL.md section 16)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Invitation:
    invitation_id: str
    code_hash: bytes
    inviter_id: str | None  # None: issued by the operator CLI (bootstrap / admin invite)
    role: Role
    created_at: int
    expires_at: int
    used_at: int | None = None
    revoked_at: int | None = None
    account_id: str | None = None
    label_ciphertext: bytes | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """A therapist<->client relationship, created when a client redeems its therapist's invitation."""

    therapist_id: str
    client_id: str
    created_at: int
    label_ciphertext: bytes | None  # the therapist's own encrypted label for the client


@dataclass(frozen=True, slots=True)
class Bundle:
    device_id: str
    identity_key: bytes
    signed_prekey: SignedPrekey
    one_time_prekey: OneTimePrekey | None
    remaining: int  # one-time prekeys left on the device after this claim
    certificate: bytes = b""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    device_id: str
    account_id: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class Terms:
    therapist_id: str
    version: int
    text: str
    terms_hash: bytes
    published_at: int


@dataclass(frozen=True, slots=True)
class Consent:
    therapist_id: str
    client_id: str
    version: int
    terms_hash: bytes
    signed_at: int
    signature: bytes
    device_id: str
    accepted_at: int


@dataclass(frozen=True, slots=True)
class ConsentState:
    current_version: int  # 0: the therapist has published no terms yet
    accepted_version: int  # 0: the client accepted nothing yet


@dataclass(frozen=True, slots=True)
class NewEnvelope:
    to_device: str
    type: str
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class NewSend:
    message_id: str
    from_account: str
    from_device: str
    to_account: str
    envelopes: tuple[NewEnvelope, ...]
    sent_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class SendOutcome:
    accepted_at: int
    duplicate: bool
    positions: dict[str, int]  # to_device -> stream position; empty for a duplicate


@dataclass(frozen=True, slots=True)
class MailboxItem:
    pos: int
    message_id: str
    from_account: str
    from_device: str
    type: str
    ciphertext: bytes
    sent_at: int
    expires_at: int = 0  # 0: not known to the reader (it filtered expired items itself)
