"""What a device remembers, as record kinds of its keystore (client/keystore.py).

| kind | key | value |
|---|---|---|
| `profile` | field name | server_url, account_id, device_id, role, identity_seed (b64), |
|           |            | current_signed_prekey, next_prekey_id, cursor, |
|           |            | inbox_taken ([first inbox slice's key, messages taken from it] or null) |
| `signed_prekey` | key id | b64 ``SignedPreKeyPair.to_bytes()`` |
| `one_time_prekey` | key id | b64 ``OneTimePreKeyPair.to_bytes()`` |
| `session` | peer device id | [b64 ``Session.to_bytes()``], the active one first, a few previous ones |
| `peer_identity` | peer device id | b64 identity key (pinned on first sight) |
| `device_account` | peer device id | its account id |
| `device_set` | account id | that account's current device ids |
| `seen_slice` (ordered) | sequence | [message id, ...]: the ids of one slice of a page (client/inbox.py); |
|                       |          | the de-duplication window, at least the last ``MAX_SEEN_IDS`` ids |
| `inbox_slice` (ordered) | sequence | [``StoredMessage``, ...]: one slice's messages not yet taken by the |
|                         |          | application (client/inbox.py) |
| `seen` (ordered) | message id | 1: one seen id (earlier versions; read and evicted, no longer written) |
| `inbox` (ordered) | message id | one decrypted message (earlier versions; handed over first, not written |
|                   |            | since) |
| `outbox` (ordered) | message id | a send not yet acknowledged by the server (``OutboxEntry``) |
| `key_change` (ordered) | sequence | {account_id, device_id} of a refused changed key |

Protocol version 2 (client/trust.py, client/maintenance.py, docs/PROTOCOL.md sections 16-20):

| kind | key | value |
|---|---|---|
| `profile` | field name | also account_seed, certificate (72 bytes), replay_cache (ReplayCache), all b64 |
| `account_secret` | type (decimal) | b64 value received at linking, passed on to devices this one links |
| `account_pin` | account id | the pinned account key and its state (client/trust.py) |
| `invitation_fp` | inviter account id | the invitation link's fingerprint, until the inviter's key is seen |
| `spk_created` / `spk_retired` | signed prekey id | ms: when it was made / replaced (rotation and grace) |
| `claimed_prekey` | one-time prekey id | ms: when the device first saw it claimed and unused |
| `held` (ordered) | position:device | an envelope from a contact whose key changed, until decided |
| `contact_profile` | account id | {name, sent_at}: the newest display name it sent (client/names.py) |

Each record is one sealed row. Received messages are written a slice (up to 25) at a time: one inbox_slice
row and one seen_slice row per slice, each sender's session row and the cursor once per write (the session
as it is then, client/sessions.py); handing over restages ``inbox_taken`` and deletes a slice's row after its
last message (client/inbox.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from client.keystore import Keystore, RecordKind, Table

__all__ = [
    "MAX_PREVIOUS_SESSIONS",
    "MAX_SEEN_IDS",
    "DeviceState",
    "OutboxEntry",
    "StoredMessage",
]

MAX_SEEN_IDS = 5_000  # id de-duplication window; redelivered positions are already skipped by the cursor
MAX_PREVIOUS_SESSIONS = 4


@dataclass
class OutboxEntry:
    """A send not yet acknowledged by the server; retried with the same id (the server de-duplicates)."""

    id: str
    to_account: str
    plaintext: str = field(repr=False)  # b64 of the encoded payload (docs/SDK.md)
    created_at: int = 0
    body: dict[str, Any] | None = field(default=None, repr=False)  # last encrypted send, resent while valid


@dataclass
class StoredMessage:
    """A decrypted message persisted before its envelope was acknowledged, until the app takes it."""

    id: str
    from_account: str
    from_device: str
    pos: int
    sent_at: int
    plaintext: str = field(repr=False)  # b64 of the encoded payload


def _fields(record: OutboxEntry | StoredMessage) -> dict[str, Any]:
    # the fields as they are (json.dumps copies them): dataclasses.asdict deep-copies, which costs more
    # than sealing the row
    return dict(vars(record))


def _outbox_entry(doc: Any) -> OutboxEntry:
    return OutboxEntry(**doc)


def _stored_message(doc: Any) -> StoredMessage:
    return StoredMessage(**doc)


def _slice_fields(messages: list[StoredMessage]) -> list[dict[str, Any]]:
    return [vars(m) for m in messages]  # read by json.dumps only, never changed


def _stored_slice(doc: Any) -> list[StoredMessage]:
    return [StoredMessage(**m) for m in doc]


PROFILE: RecordKind[Any] = RecordKind("profile")
SIGNED_PREKEY: RecordKind[str] = RecordKind("signed_prekey")
ONE_TIME_PREKEY: RecordKind[str] = RecordKind("one_time_prekey")
SESSION: RecordKind[list[str]] = RecordKind("session")
PEER_IDENTITY: RecordKind[str] = RecordKind("peer_identity")
DEVICE_ACCOUNT: RecordKind[str] = RecordKind("device_account")
DEVICE_SET: RecordKind[list[str]] = RecordKind("device_set")
SEEN: RecordKind[int] = RecordKind("seen", ordered=True)
INBOX: RecordKind[StoredMessage] = RecordKind("inbox", ordered=True, encode=_fields, decode=_stored_message)
SEEN_SLICE: RecordKind[list[str]] = RecordKind("seen_slice", ordered=True)
INBOX_SLICE: RecordKind[list[StoredMessage]] = RecordKind(
    "inbox_slice", ordered=True, encode=_slice_fields, decode=_stored_slice
)
OUTBOX: RecordKind[OutboxEntry] = RecordKind("outbox", ordered=True, encode=_fields, decode=_outbox_entry)
KEY_CHANGE: RecordKind[dict[str, str]] = RecordKind("key_change", ordered=True)
ACCOUNT_SECRET: RecordKind[str] = RecordKind("account_secret")
ACCOUNT_PIN: RecordKind[dict[str, Any]] = RecordKind("account_pin")
INVITATION_FP: RecordKind[str] = RecordKind("invitation_fp")
SPK_CREATED: RecordKind[int] = RecordKind("spk_created")
SPK_RETIRED: RecordKind[int] = RecordKind("spk_retired")
CLAIMED_PREKEY: RecordKind[int] = RecordKind("claimed_prekey")
HELD: RecordKind[dict[str, Any]] = RecordKind("held", ordered=True)
CONTACT_PROFILE: RecordKind[dict[str, Any]] = RecordKind("contact_profile")


class _Field:
    """A profile value as an attribute; assigning stages the record."""

    def __init__(self, default: Any = None) -> None:
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: DeviceState | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj.profile.get(self.name, self.default)

    def __set__(self, obj: DeviceState, value: Any) -> None:
        if obj.profile.get(self.name, self.default) != value or self.name not in obj.profile:
            obj.profile[self.name] = value


class DeviceState:
    """The device's records, as tables of its open keystore. Change a value by assigning it (never in place),
    then ``await keystore.commit()``."""

    server_url = _Field()
    account_id = _Field()
    device_id = _Field()
    role = _Field()
    identity_seed = _Field()
    current_signed_prekey = _Field(1)
    next_prekey_id = _Field(1)
    cursor = _Field(0)
    account_seed = _Field("")
    certificate = _Field("")
    replay_cache = _Field("")
    inbox_taken = _Field()

    def __init__(self, keystore: Keystore) -> None:
        self.keystore = keystore
        self.profile: Table[Any] = keystore.table(PROFILE)
        self.signed_prekeys = keystore.table(SIGNED_PREKEY)
        self.one_time_prekeys = keystore.table(ONE_TIME_PREKEY)
        self.sessions = keystore.table(SESSION)
        self.peer_identities = keystore.table(PEER_IDENTITY)
        self.device_accounts = keystore.table(DEVICE_ACCOUNT)
        self.device_sets = keystore.table(DEVICE_SET)
        self.seen = keystore.table(SEEN)
        self.inbox = keystore.table(INBOX)
        self.seen_slices = keystore.table(SEEN_SLICE)
        self.inbox_slices = keystore.table(INBOX_SLICE)
        self.outbox = keystore.table(OUTBOX)
        self.key_changes = keystore.table(KEY_CHANGE)
        self.account_secrets = keystore.table(ACCOUNT_SECRET)
        self.account_pins = keystore.table(ACCOUNT_PIN)
        self.invitation_fingerprints = keystore.table(INVITATION_FP)
        self.signed_prekey_created = keystore.table(SPK_CREATED)
        self.signed_prekey_retired = keystore.table(SPK_RETIRED)
        self.claimed_prekeys = keystore.table(CLAIMED_PREKEY)
        self.held = keystore.table(HELD)
        self.contact_profiles = keystore.table(CONTACT_PROFILE)

    def __repr__(self) -> str:
        return f"DeviceState(account={self.account_id}, device={self.device_id}, secrets=<hidden>)"

    def remember_seen(self, message_id: str) -> None:
        self.seen[message_id] = 1
        while len(self.seen) > MAX_SEEN_IDS:
            self.seen.pop_first()
