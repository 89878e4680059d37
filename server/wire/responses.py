"""Response bodies and server->client socket payloads (docs/API.md). Bytes are standard base64."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "AccountCreatedOut", "AckOut", "BundleOut", "BundlesOut", "ChallengeOut", "ConsentAcceptedOut",
    "ConsentItemOut", "ConsentStatusOut", "ConsentsOut", "ContactDeviceOut", "ContactOut", "ContactsOut",
    "CountOut", "DeviceAddedOut", "DeviceOut", "DevicesChangedEvent", "ConsentChangedEvent", "EmptyOut",
    "ErrorBody", "ErrorOut", "HealthOut", "InboxEvent", "InvitationCreatedOut", "InvitationOut",
    "InvitationsOut", "LinkCodeOut", "MailboxItemOut", "MeOut", "OneTimePrekeyOut", "OneTimePrekeysCountOut",
    "PrekeysLowEvent", "ReadyOut", "SendOut", "SignedPrekeyOut", "SyncOut", "TermsOut", "TermsPublishedOut",
    "TokenOut",
]


class _Out(msgspec.Struct, frozen=True):
    pass


class ErrorBody(_Out, omit_defaults=True):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorOut(_Out):
    error: ErrorBody


class EmptyOut(_Out):
    pass


class InvitationCreatedOut(_Out):
    invitation_id: str
    code: str
    expires_at: int
    url: str


class InvitationOut(_Out):
    invitation_id: str
    role: str
    expires_at: int
    used_at: int | None
    account_id: str | None
    label_ciphertext: str | None


class InvitationsOut(_Out):
    invitations: list[InvitationOut]


class AccountCreatedOut(_Out):
    account_id: str
    device_id: str
    role: str
    linked_account_id: str | None


class DeviceOut(_Out):
    device_id: str
    identity_key: str
    created_at: int


class MeOut(_Out):
    account_id: str
    role: str
    device_id: str
    devices: list[DeviceOut]


class LinkCodeOut(_Out):
    code: str
    expires_at: int


class DeviceAddedOut(_Out):
    account_id: str
    device_id: str
    role: str


class ConsentStatusOut(_Out):
    accepted_version: int
    current_version: int


class ContactDeviceOut(_Out):
    device_id: str
    identity_key: str


class ContactOut(_Out):
    account_id: str
    role: str
    label_ciphertext: str | None
    consent: ConsentStatusOut
    devices: list[ContactDeviceOut]


class ContactsOut(_Out):
    contacts: list[ContactOut]


class ChallengeOut(_Out):
    nonce: str
    expires_at: int


class TokenOut(_Out):
    token: str
    expires_at: int


class SignedPrekeyOut(_Out):
    id: int
    public: str
    signature: str


class OneTimePrekeyOut(_Out):
    id: int
    public: str


class BundleOut(_Out):
    device_id: str
    identity_key: str
    signed_prekey: SignedPrekeyOut
    one_time_prekey: OneTimePrekeyOut | None


class BundlesOut(_Out):
    bundles: list[BundleOut]


class CountOut(_Out):
    count: int


class OneTimePrekeysCountOut(_Out):
    one_time_prekeys: int


class TermsPublishedOut(_Out):
    version: int
    terms_hash: str


class TermsOut(_Out):
    therapist_id: str
    version: int
    text: str
    terms_hash: str
    published_at: int


class ConsentAcceptedOut(_Out):
    accepted_at: int


class ConsentItemOut(_Out):
    therapist_id: str
    client_id: str
    version: int
    accepted_at: int


class ConsentsOut(_Out):
    consents: list[ConsentItemOut]


class SendOut(_Out):
    id: str
    accepted_at: int
    duplicate: bool


class MailboxItemOut(_Out):
    pos: int
    id: str
    from_account: str
    from_device: str
    type: str
    ciphertext: str
    sent_at: int


class SyncOut(_Out):
    envelopes: list[MailboxItemOut]
    more: bool


class AckOut(_Out):
    deleted: int


class HealthOut(_Out):
    status: str


class ReadyOut(_Out):
    status: str
    checks: dict[str, str]


class InboxEvent(_Out):
    envelopes: list[MailboxItemOut]


class PrekeysLowEvent(_Out):
    count: int


class DevicesChangedEvent(_Out):
    account_id: str


class ConsentChangedEvent(_Out):
    therapist_id: str
    version: int
