"""Response bodies and server->client socket payloads (docs/API.md). Bytes are standard base64."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "AccountCreatedOut",
    "AckOut",
    "BundleOut",
    "BundlesOut",
    "CertificateOut",
    "ChallengeOut",
    "ConsentAcceptedOut",
    "ConsentChangedEvent",
    "ConsentItemOut",
    "ConsentStatusOut",
    "ConsentsOut",
    "ContactDeviceOut",
    "ContactOut",
    "ContactsOut",
    "CountOut",
    "DeviceAddedOut",
    "DeviceOut",
    "DevicesChangedEvent",
    "EmptyOut",
    "ErrorBody",
    "ErrorOut",
    "HealthOut",
    "InboxEvent",
    "InvitationCheckOut",
    "InvitationCreatedOut",
    "InvitationOut",
    "InvitationsOut",
    "LinkCreatedOut",
    "LinkOfferedOut",
    "LinkStateOut",
    "MailboxItemOut",
    "MeOut",
    "OneTimePrekeyOut",
    "OneTimePrekeysCountOut",
    "PrekeyIdsOut",
    "PrekeysLowEvent",
    "ReadyOut",
    "SendBatchOut",
    "SendOut",
    "SignedPrekeyOut",
    "SyncOut",
    "TermsOut",
    "TermsPublishedOut",
    "TokenOut",
]


class _Out(msgspec.Struct, frozen=True):
    pass


class ErrorBody(_Out, frozen=True, omit_defaults=True):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorOut(_Out, frozen=True):
    error: ErrorBody


class EmptyOut(_Out, frozen=True):
    pass


class InvitationCreatedOut(_Out, frozen=True):
    invitation_id: str
    code: str
    expires_at: int
    url: str


class InvitationOut(_Out, frozen=True):
    invitation_id: str
    role: str
    expires_at: int
    used_at: int | None
    account_id: str | None
    label_ciphertext: str | None


class InvitationsOut(_Out, frozen=True):
    invitations: list[InvitationOut]


class AccountCreatedOut(_Out, frozen=True):
    account_id: str
    device_id: str
    role: str
    linked_account_id: str | None


class CertificateOut(_Out, frozen=True):
    created_at: int
    signature: str


class DeviceOut(_Out, frozen=True):
    device_id: str
    identity_key: str
    certificate: CertificateOut
    created_at: int


class MeOut(_Out, frozen=True):
    account_id: str
    account_key: str
    role: str
    device_id: str
    devices: list[DeviceOut]


class LinkCreatedOut(_Out, frozen=True):
    link_id: str
    expires_at: int


class LinkOfferedOut(_Out, frozen=True):
    link_id: str
    device_id: str
    identity_key: str
    expires_at: int


class LinkStateOut(_Out, frozen=True):
    link_id: str
    state: str
    offer_key: str | None
    account_id: str | None
    bundle: str | None
    expires_at: int


class PrekeyIdsOut(_Out, frozen=True):
    ids: list[int]


class DeviceAddedOut(_Out, frozen=True):
    account_id: str
    device_id: str
    role: str


class ConsentStatusOut(_Out, frozen=True):
    accepted_version: int
    current_version: int


class ContactDeviceOut(_Out, frozen=True):
    device_id: str
    identity_key: str
    certificate: CertificateOut


class ContactOut(_Out, frozen=True):
    account_id: str
    account_key: str
    role: str
    label_ciphertext: str | None
    consent: ConsentStatusOut
    devices: list[ContactDeviceOut]


class ContactsOut(_Out, frozen=True):
    contacts: list[ContactOut]


class ChallengeOut(_Out, frozen=True):
    nonce: str
    expires_at: int


class TokenOut(_Out, frozen=True):
    token: str
    expires_at: int


class SignedPrekeyOut(_Out, frozen=True):
    id: int
    public: str
    signature: str


class OneTimePrekeyOut(_Out, frozen=True):
    id: int
    public: str


class BundleOut(_Out, frozen=True):
    device_id: str
    identity_key: str
    certificate: CertificateOut
    signed_prekey: SignedPrekeyOut
    one_time_prekey: OneTimePrekeyOut | None


class BundlesOut(_Out, frozen=True):
    bundles: list[BundleOut]


class CountOut(_Out, frozen=True):
    count: int


class OneTimePrekeysCountOut(_Out, frozen=True):
    one_time_prekeys: int


class InvitationCheckOut(_Out, frozen=True):
    valid: bool
    role: str | None  # only when valid


class TermsPublishedOut(_Out, frozen=True):
    version: int
    terms_hash: str


class TermsOut(_Out, frozen=True):
    therapist_id: str
    version: int
    text: str
    terms_hash: str
    published_at: int


class ConsentAcceptedOut(_Out, frozen=True):
    accepted_at: int


class ConsentItemOut(_Out, frozen=True):
    therapist_id: str
    client_id: str
    version: int
    accepted_at: int
    # The client's signed proof (what it signed, when, with which device): the therapist's device checks it
    # before trusting the terms text it reads (the records custodian key is pinned in that text).
    terms_hash: str
    signed_at: int
    signature: str
    device_id: str


class ConsentsOut(_Out, frozen=True):
    consents: list[ConsentItemOut]


class SendOut(_Out, frozen=True):
    id: str
    accepted_at: int
    duplicate: bool


class SendBatchOut(_Out, frozen=True):
    # One answer per send, in order, each shaped like a single event's ack: {"ok": true, "result": SendOut}
    # or {"ok": false, "error": ErrorBody}. Processing stops at the first refused send: sends after it are
    # not answered (nothing was done with them), so a conversation's order holds; send them again.
    results: list[dict[str, Any]]


class MailboxItemOut(_Out, frozen=True):
    pos: int
    id: str
    from_account: str
    from_device: str
    type: str
    ciphertext: str
    sent_at: int


class SyncOut(_Out, frozen=True):
    envelopes: list[MailboxItemOut]
    more: bool


class AckOut(_Out, frozen=True):
    deleted: int


class HealthOut(_Out, frozen=True):
    status: str


class ReadyOut(_Out, frozen=True):
    status: str
    checks: dict[str, str]


class InboxEvent(_Out, frozen=True):
    pos: int  # the device's newest stream position (0: unknown, pull anyway); never ciphertext or sender


class PrekeysLowEvent(_Out, frozen=True):
    count: int


class DevicesChangedEvent(_Out, frozen=True):
    account_id: str


class ConsentChangedEvent(_Out, frozen=True):
    therapist_id: str
    version: int
