"""One Protocol per aggregate. Services depend on these, never on an adapter.

Every adapter passes the shared contract suite in ``tests/storage/``. Methods are verb_noun;
a multi-step write is ONE method (one transaction) so that no caller can leave it half done.
All times are integer milliseconds; callers pass ``now`` so that tests can drive a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from storage.appointments import AppointmentStore
from storage.audit import AuditStore
from storage.blobs import BlobStore
from storage.custodian import CustodianStore
from storage.erasure import ErasureStore
from storage.ops import OpsStore
from storage.practice import PracticeStore
from storage.records import (
    Account,
    Bundle,
    Consent,
    ConsentState,
    Device,
    Invitation,
    Link,
    MailboxItem,
    NewDevice,
    NewSend,
    OneTimePrekey,
    Role,
    SendOutcome,
    SignedPrekey,
    Terms,
    TokenRecord,
)
from storage.send_facts import SendFactsStore
from storage.vault import VaultStore

__all__ = [
    "STORES",
    "AccountStore",
    "ChallengeStore",
    "ConsentStore",
    "DeviceStore",
    "InvitationStore",
    "LinkStore",
    "MailboxStore",
    "PrekeyStore",
    "Storage",
    "TokenStore",
]


class AccountStore(Protocol):
    async def get_account(self, account_id: str) -> Account | None: ...

    async def count_accounts(self) -> int: ...

    async def set_account_disabled(self, account_id: str, disabled: bool) -> bool: ...

    async def add_account_from_invitation(
        self, *, code_hash: bytes, account_id: str, device: NewDevice, now: int, account_key: bytes = b""
    ) -> tuple[Account, Invitation]:
        """Redeem the invitation, create the account (with its public account key) and its first
        device (with prekeys and certificate) and, for a client, the link to the inviting therapist.
        Raises InvitationUnusable."""
        ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): The account row."""
        ...


class InvitationStore(Protocol):
    async def add_invitation(self, invitation: Invitation) -> None: ...

    async def get_invitations_by_inviter(self, inviter_id: str) -> list[Invitation]: ...

    async def get_invitation_by_code_hash(self, code_hash: bytes) -> Invitation | None:
        """The invitation a code redeems, used or not; None if no invitation has this code."""
        ...

    async def revoke_invitation(self, invitation_id: str, inviter_id: str, now: int) -> bool:
        """Revoke an unused invitation of this inviter; False if none matches."""
        ...

    async def revoke_operator_invitations(self, role: Role, now: int) -> int:
        """Revoke unused operator (CLI) invitations of a role, e.g. before a new bootstrap code."""
        ...

    async def delete_expired_invitations(self, now: int) -> int: ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): invitations the account issued or redeemed."""
        ...


class LinkStore(Protocol):
    async def get_link(self, therapist_id: str, client_id: str) -> Link | None: ...

    async def get_links_of(self, account_id: str) -> list[Link]:
        """Every link where the account is the therapist or the client."""
        ...

    async def delete_link(self, therapist_id: str, client_id: str) -> bool:
        """Discharge: end the link (False if there was none). Consents stay, as the record of the past."""
        ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): Every link where the account is the therapist or the client."""
        ...


class DeviceStore(Protocol):
    async def get_device(self, device_id: str) -> Device | None: ...

    async def get_devices(self, account_ids: Sequence[str]) -> list[Device]:
        """Every device (active and revoked) of these accounts, oldest first."""
        ...

    async def add_link_code(self, code_hash: bytes, account_id: str, expires_at: int) -> None: ...

    async def add_device_with_link_code(
        self, *, code_hash: bytes, device: NewDevice, max_devices: int, now: int
    ) -> Device:
        """Consume the link code and add the device to its account.
        Raises LinkCodeUnusable or DeviceLimitReached (the code is then left unused)."""
        ...

    async def revoke_device(self, device_id: str, now: int) -> bool:
        """Mark revoked and delete its tokens, challenges, prekeys and mailbox. False if not active."""
        ...

    async def set_signed_prekey(self, device_id: str, prekey: SignedPrekey) -> None: ...

    async def delete_expired_link_codes(self, now: int) -> int: ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): Every device of the account (revoked ones too) and its link codes."""
        ...


class PrekeyStore(Protocol):
    async def add_one_time_prekeys(
        self, device_id: str, prekeys: Sequence[OneTimePrekey], max_stored: int
    ) -> int:
        """Store all or none; returns the new count. Raises PrekeyIdConflict / PrekeyLimitReached."""
        ...

    async def count_one_time_prekeys(self, device_id: str) -> int: ...

    async def get_one_time_prekey_ids(self, device_id: str) -> list[int]:
        """Ids of the device's one-time prekeys still stored (not yet claimed), in upload order."""
        ...

    async def claim_bundles(self, device_ids: Sequence[str]) -> list[Bundle]:
        """For each active device: its keys plus its oldest one-time prekey, removed atomically
        so that two concurrent claims never get the same key."""
        ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): The one-time prekeys of the account's devices."""
        ...


class ChallengeStore(Protocol):
    async def add_challenge(self, nonce: bytes, device_id: str, expires_at: int) -> None: ...

    async def take_challenge(self, nonce: bytes, device_id: str, now: int) -> bool:
        """Delete the nonce; True only if it existed for this device and had not expired."""
        ...

    async def delete_expired_challenges(self, now: int) -> int: ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): Login challenges of the account's devices."""
        ...


class TokenStore(Protocol):
    async def add_token(self, token_hash: bytes, record: TokenRecord) -> None: ...

    async def get_token(self, token_hash: bytes) -> TokenRecord | None: ...

    async def delete_token(self, token_hash: bytes) -> bool: ...

    async def delete_expired_tokens(self, now: int) -> int: ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): Every token of the account: it is logged out everywhere."""
        ...


class ConsentStore(Protocol):
    async def add_terms(self, therapist_id: str, text: str, terms_hash: bytes, now: int) -> Terms:
        """Publish the next version (current + 1)."""
        ...

    async def get_terms(self, therapist_id: str) -> Terms | None:
        """The current (newest) version."""
        ...

    async def add_consent(self, consent: Consent) -> None: ...

    async def get_consent_state(self, therapist_id: str, client_id: str) -> ConsentState: ...

    async def get_consents_of(self, account_id: str) -> list[Consent]:
        """The newest consent of every pair where the account is therapist or client."""
        ...

    async def delete_unreferenced_terms(self) -> int:
        """Retention: terms versions that are not their therapist's current one and that no consent names."""
        ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): consents of either party, a therapist's terms."""
        ...


class MailboxStore(Protocol):
    async def add_send(
        self, send: NewSend, *, on_commit: Callable[[SendOutcome], object] | None = None
    ) -> SendOutcome:
        """Store one envelope per device, or nothing if (from_device, message_id) was seen:
        then return the original ``accepted_at`` with ``duplicate=True``. ``on_commit(outcome)`` runs on
        the event loop once the send is durable: with SQLite in commit order and even if the caller stopped
        waiting (what an exact cache of committed items needs); other backends call it before returning."""
        ...

    async def get_send(self, from_device: str, message_id: str) -> SendOutcome | None: ...

    async def get_items(self, device_id: str, after: int, limit: int, now: int) -> list[MailboxItem]:
        """Unexpired items with pos > after, in position order, at most ``limit``."""
        ...

    async def delete_items(self, device_id: str, up_to: int) -> int: ...

    async def delete_expired_items(self, now: int) -> int:
        """Delete expired envelopes and the idempotency records of expired sends."""
        ...

    async def delete_sends_before(self, cutoff: int) -> int:
        """Retention: idempotency records of sends accepted before ``cutoff`` (a retry comes much sooner)."""
        ...

    async def erase_account(self, account_id: str) -> int:
        """Erasure (storage/erasure.py): envelopes to or from the account, its devices' send records."""
        ...


class Storage(Protocol):
    """The set of stores of one backend, plus its lifecycle.

    Every store a service uses is a property here, and ``open()`` of every adapter provides all of them
    (one database, one engine). A store's Protocol lives in ``storage.protocols`` or, with its records, in
    its own module (``storage.appointments``, ``storage.audit``, ``storage.ops``, ``storage.send_facts``).
    Adding one: docs/STORAGE.md, "Adding a store".
    """

    @property
    def accounts(self) -> AccountStore: ...
    @property
    def invitations(self) -> InvitationStore: ...
    @property
    def links(self) -> LinkStore: ...
    @property
    def devices(self) -> DeviceStore: ...
    @property
    def prekeys(self) -> PrekeyStore: ...
    @property
    def challenges(self) -> ChallengeStore: ...
    @property
    def tokens(self) -> TokenStore: ...
    @property
    def consent(self) -> ConsentStore: ...
    @property
    def mailbox(self) -> MailboxStore: ...
    @property
    def send_facts(self) -> SendFactsStore: ...
    @property
    def appointments(self) -> AppointmentStore: ...
    @property
    def audit(self) -> AuditStore: ...
    @property
    def ops(self) -> OpsStore: ...
    @property
    def erasure(self) -> ErasureStore: ...
    @property
    def blobs(self) -> BlobStore: ...
    @property
    def vault(self) -> VaultStore: ...
    @property
    def practice(self) -> PracticeStore: ...
    @property
    def custodian(self) -> CustodianStore: ...

    async def ping(self) -> None:
        """Raise StorageUnavailable if the backend cannot serve a read."""
        ...

    async def put_heartbeat(self, now: int) -> None:
        """Upsert the one-row heartbeat through the normal write path (readiness): raise StorageUnavailable
        if the backend cannot commit a write (full disk, read-only file system, no primary)."""
        ...

    async def close(self) -> None: ...


# The names of the store properties of ``Storage`` (the timing wrapper and the contract suite walk them;
# tests/storage/test_port.py checks this tuple against the Protocol).
STORES: tuple[str, ...] = (
    "accounts",
    "invitations",
    "links",
    "devices",
    "prekeys",
    "challenges",
    "tokens",
    "consent",
    "mailbox",
    "send_facts",
    "appointments",
    "audit",
    "ops",
    "erasure",
    "blobs",
    "vault",
    "practice",
    "custodian",
)
