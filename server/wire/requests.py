"""Request bodies and socket payloads, as msgspec Structs (unknown fields rejected).

Shapes are the contract of docs/API.md. Byte values arrive as base64 strings and are decoded, with
their exact sizes checked, by ``server.wire.decode``; services never see a raw wire value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

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
    "InvitationCheckIn",
    "LinkApproveIn",
    "LinkOfferIn",
    "LinkRequestIn",
    "OneTimePrekeyIn",
    "OneTimePrekeysIn",
    "SendBatchIn",
    "SendIn",
    "SignedPrekeyIn",
    "SyncIn",
    "TermsIn",
    "TokenIn",
]

HexId = Annotated[str, Meta(pattern="^[0-9a-f]{32}$", description="16 random bytes as 32 lowercase hex")]
# Standard base64 with padding, canonical (the unused bits of the last character are zero), as the OpenAPI
# document states them; server.wire.decode.b64 checks the same rules and decodes.
_B64 = "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?"
B64 = Annotated[str, Meta(max_length=256, pattern=f"^{_B64}$", description="standard base64 with padding")]
Key32 = Annotated[
    str,
    Meta(
        pattern="^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$",
        min_length=44,
        max_length=44,
        description="32 bytes (a public key, nonce or hash) in standard base64 with padding",
    ),
]
Sig64 = Annotated[
    str,
    Meta(
        pattern="^[A-Za-z0-9+/]{85}[AQgw]==$",
        min_length=88,
        max_length=88,
        description="64 bytes (an Ed25519 signature) in standard base64 with padding",
    ),
]
Ciphertext = Annotated[
    str,
    Meta(
        # Stated in the OpenAPI document but checked once, by decode.b64 (strict and canonical): the
        # regular expression alone cost ~70 us per send, more than everything else in validation.
        extra_json_schema={"pattern": f"^{_B64}$"},
        description=f"one envelope (docs/PROTOCOL.md section 5) in standard base64, at most "
        f"{limits.MAX_ENVELOPE_CIPHERTEXT_BYTES} bytes decoded (larger: 413 payload_too_large)",
    ),
]


def _b64_at_most(max_bytes: int) -> str:
    """A regex for canonical padded base64 of at most ``max_bytes`` bytes (exact, so that the schema
    accepts exactly what the decoder accepts)."""
    group, one, two = "[A-Za-z0-9+/]{4}", "[A-Za-z0-9+/][AQgw]==", "[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]="
    full, rest = divmod(max_bytes, 3)
    last = {0: "", 1: f"(?:{one})?", 2: f"(?:{one}|{two})?"}[rest]
    shorter = f"(?:{group}){{0,{full - 1}}}(?:{one}|{two})?|" if full else ""
    return f"^(?:{shorter}(?:{group}){{{full}}}{last})$"


Label = Annotated[
    str,
    Meta(
        max_length=4 * -(-limits.MAX_LABEL_CIPHERTEXT_BYTES // 3),  # base64 of exactly the limit
        pattern=_b64_at_most(limits.MAX_LABEL_CIPHERTEXT_BYTES),
        description=f"at most {limits.MAX_LABEL_CIPHERTEXT_BYTES} bytes of ciphertext in standard base64",
    ),
]
U32 = Annotated[int, Meta(ge=0, le=limits.MAX_PREKEY_ID)]
Position = Annotated[int, Meta(ge=0, le=2**63 - 1)]
Code = Annotated[str, Meta(min_length=1, max_length=128)]


class _In(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class SignedPrekeyIn(_In, frozen=True):
    id: U32
    public: Key32
    signature: Sig64


class OneTimePrekeyIn(_In, frozen=True):
    id: U32
    public: Key32


class CertificateIn(_In, frozen=True):
    created_at: Annotated[int, Meta(ge=0, le=2**63 - 1)]
    signature: Sig64


class AccountIn(_In, frozen=True):
    account_id: HexId
    account_key: Key32


class DeviceIn(_In, frozen=True):
    device_id: HexId
    identity_key: Key32
    certificate: CertificateIn
    signed_prekey: SignedPrekeyIn
    one_time_prekeys: Annotated[list[OneTimePrekeyIn], Meta(max_length=limits.MAX_PREKEYS_PER_UPLOAD)] = []


class CreateInvitationIn(_In, frozen=True):
    role: Literal["admin", "therapist", "client"]  # who may invite whom: server.services.invitations
    ttl_seconds: (
        Annotated[int, Meta(ge=limits.MIN_INVITATION_TTL_SECONDS, le=limits.MAX_INVITATION_TTL_SECONDS)]
        | None
    ) = None
    label_ciphertext: Label | None = None


class CreateAccountIn(_In, frozen=True):
    invitation_code: Code
    account: AccountIn
    device: DeviceIn


class InvitationCheckIn(_In, frozen=True):
    invitation_code: Code


class AddDeviceIn(_In, frozen=True):
    link_id: HexId
    device: DeviceIn


class LinkRequestIn(_In, frozen=True):
    link_key: Key32
    device_id: HexId
    identity_key: Key32


class LinkOfferIn(_In, frozen=True):
    link_key: Key32


class LinkApproveIn(_In, frozen=True):
    bundle: Annotated[str, Meta(max_length=limits.MAX_LINK_BUNDLE_B64_CHARS, pattern=f"^{_B64}$")]


class ChallengeIn(_In, frozen=True):
    device_id: HexId


class TokenIn(_In, frozen=True):
    device_id: HexId
    nonce: Key32
    signature: Sig64


class OneTimePrekeysIn(_In, frozen=True):
    prekeys: Annotated[list[OneTimePrekeyIn], Meta(min_length=1, max_length=limits.MAX_PREKEYS_PER_UPLOAD)]


class TermsIn(_In, frozen=True):
    text: Annotated[str, Meta(min_length=1)]


class ConsentIn(_In, frozen=True):
    therapist_id: HexId
    version: Annotated[int, Meta(ge=1, le=limits.MAX_PREKEY_ID)]
    terms_hash: Key32
    signed_at: Annotated[int, Meta(ge=0, le=2**63 - 1)]
    signature: Sig64


class EnvelopeIn(_In, frozen=True):
    v: int
    to_device: HexId
    type: Literal["prekey", "message"]  # limits.ENVELOPE_TYPES
    ciphertext: Ciphertext


class SendIn(_In, frozen=True):
    id: HexId
    to_account: HexId
    envelopes: Annotated[list[EnvelopeIn], Meta(min_length=1)]


class SendBatchIn(_In, frozen=True):
    # Each send is validated on its own (server/realtime.py): one bad send is refused alone.
    sends: Annotated[list[Any], Meta(min_length=1, max_length=limits.MAX_SENDS_PER_BATCH)]


class SyncIn(_In, frozen=True):
    after: Position = 0
    limit: Annotated[int, Meta(ge=1, le=limits.MAX_SYNC_LIMIT)] = limits.DEFAULT_SYNC_LIMIT
    ack_up_to: Position | None = None  # also acknowledge (delete) everything up to this position


class AckIn(_In, frozen=True):
    up_to: Position
