"""Request bodies and socket payloads, as msgspec Structs (unknown fields rejected).

Shapes are the contract of docs/API.md. Byte values arrive as base64 strings and are decoded, with
their exact sizes checked, by ``server.wire.decode``; services never see a raw wire value.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from server import limits

__all__ = [
    "AccountIn",
    "AckIn",
    "AddDeviceIn",
    "CertificateIn",
    "ChallengeIn",
    "ConsentIn",
    "CreateAccountIn",
    "CreateInvitationIn",
    "DeviceIn",
    "EnvelopeIn",
    "LinkApproveIn",
    "LinkOfferIn",
    "LinkRequestIn",
    "OneTimePrekeyIn",
    "OneTimePrekeysIn",
    "SendIn",
    "SignedPrekeyIn",
    "SyncIn",
    "TermsIn",
    "TokenIn",
]

HexId = Annotated[str, Meta(pattern="^[0-9a-f]{32}$", description="16 random bytes as 32 lowercase hex")]
B64 = Annotated[str, Meta(max_length=256, description="standard base64 with padding")]
U32 = Annotated[int, Meta(ge=0, le=limits.MAX_PREKEY_ID)]
Position = Annotated[int, Meta(ge=0, le=2**63 - 1)]
Code = Annotated[str, Meta(min_length=1, max_length=128)]


class _In(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class SignedPrekeyIn(_In, frozen=True):
    id: U32
    public: B64
    signature: B64


class OneTimePrekeyIn(_In, frozen=True):
    id: U32
    public: B64


class CertificateIn(_In, frozen=True):
    created_at: Annotated[int, Meta(ge=0, le=2**63 - 1)]
    signature: B64


class AccountIn(_In, frozen=True):
    account_id: HexId
    account_key: B64


class DeviceIn(_In, frozen=True):
    device_id: HexId
    identity_key: B64
    certificate: CertificateIn
    signed_prekey: SignedPrekeyIn
    one_time_prekeys: Annotated[list[OneTimePrekeyIn], Meta(max_length=limits.MAX_PREKEYS_PER_UPLOAD)] = []


class CreateInvitationIn(_In, frozen=True):
    role: str
    ttl_seconds: (
        Annotated[int, Meta(ge=limits.MIN_INVITATION_TTL_SECONDS, le=limits.MAX_INVITATION_TTL_SECONDS)]
        | None
    ) = None
    label_ciphertext: Annotated[str, Meta(max_length=2 * limits.MAX_LABEL_CIPHERTEXT_BYTES)] | None = None


class CreateAccountIn(_In, frozen=True):
    invitation_code: Code
    account: AccountIn
    device: DeviceIn


class AddDeviceIn(_In, frozen=True):
    link_id: HexId
    device: DeviceIn


class LinkRequestIn(_In, frozen=True):
    link_key: B64
    device_id: HexId
    identity_key: B64


class LinkOfferIn(_In, frozen=True):
    link_key: B64


class LinkApproveIn(_In, frozen=True):
    bundle: Annotated[str, Meta(max_length=limits.MAX_LINK_BUNDLE_B64_CHARS)]


class ChallengeIn(_In, frozen=True):
    device_id: HexId


class TokenIn(_In, frozen=True):
    device_id: HexId
    nonce: B64
    signature: B64


class OneTimePrekeysIn(_In, frozen=True):
    prekeys: Annotated[list[OneTimePrekeyIn], Meta(min_length=1, max_length=limits.MAX_PREKEYS_PER_UPLOAD)]


class TermsIn(_In, frozen=True):
    text: Annotated[str, Meta(min_length=1)]


class ConsentIn(_In, frozen=True):
    therapist_id: HexId
    version: Annotated[int, Meta(ge=1, le=limits.MAX_PREKEY_ID)]
    terms_hash: B64
    signed_at: Annotated[int, Meta(ge=0, le=2**63 - 1)]
    signature: B64


class EnvelopeIn(_In, frozen=True):
    v: int
    to_device: HexId
    type: str
    ciphertext: str


class SendIn(_In, frozen=True):
    id: HexId
    to_account: HexId
    envelopes: Annotated[list[EnvelopeIn], Meta(min_length=1)]


class SyncIn(_In, frozen=True):
    after: Position = 0
    limit: Annotated[int, Meta(ge=1, le=limits.MAX_SYNC_LIMIT)] = limits.DEFAULT_SYNC_LIMIT


class AckIn(_In, frozen=True):
    up_to: Position
