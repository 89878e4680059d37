"""The audit log: tamper-evident security events, pseudonymous, without content.

Wire/hash format (version 1). Entry ``n`` is hashed as::

    hash_n = SHA-256( b"confidant-audit-v1\\n" || canonical_n )
    canonical_n = JSON array, no whitespace, ASCII only, object keys sorted:
        [n, at, event, account_ref, actor_ref, {details}, hash_(n-1)]

with ``hash_0`` = 64 zeros. Every value is an integer or a short ``[a-z0-9_]`` string, so the JSON text of
an entry is unique (no floats, no escapes, no Unicode normalisation questions). Changing any stored field
of entry ``n`` changes ``hash_n``; deleting entry ``n`` leaves a gap in ``seq``; deleting the newest entries
disagrees with the head recorded next to the log. Verification reports the first entry that fails.

Account and device ids are stored as keyed pseudonyms: ``HMAC-SHA256(k_owner, kind || ":" || id)``,
first 16 bytes, hex, where ``k_owner`` is a random key of the account the id belongs to (a device's under
its account's key). Each account key is stored sealed (XSalsa20-Poly1305) by a master key that is kept
OUTSIDE the database (server/audit_key.py), under an index ``HMAC-SHA256(master, "index:" || account id)``.
So the server can still find an account's own entries, and erasing the account destroys its key
(crypto-shredding): its entries stay and still verify (the chain is immutable), but no one, not even
someone holding the master key and the old account id, can tell which entries were the person's.
Entries never name two non-admin accounts, so the log holds no communication graph; the only link between
two accounts is an admin action (actor = the admin).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import nacl.secret
import nacl.utils

from server.observability import NullObserver, Observer
from storage.audit import GENESIS_HASH, AuditRecord, AuditStore, NewAuditRecord

__all__ = [
    "AuditEvent",
    "AuditRecorder",
    "AuditService",
    "ChainReport",
    "NullAuditRecorder",
    "canonical_bytes",
    "seal",
    "verify_entries",
]

log = logging.getLogger(__name__)

DOMAIN = b"confidant-audit-v1\n"
PAGE = 1000  # entries read per query while verifying
_KEY_CACHE = 10_000  # account keys cached in memory; the cache is simply emptied when full
_VALUE = re.compile(r"^[a-z0-9_]{0,64}$")
DETAIL_KEYS = frozenset({"role", "version", "device", "reason", "count"})


class AuditEvent(StrEnum):
    ACCOUNT_REGISTERED = "account_registered"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    DEVICE_ADDED = "device_added"
    DEVICE_REVOKED = "device_revoked"
    KEY_CHANGED = "key_changed"
    CONSENT_ACCEPTED = "consent_accepted"
    SESSION_ADMITTED = "session_admitted"
    SESSION_ENDED = "session_ended"
    ADMIN_INVITATION_CREATED = "admin_invitation_created"
    ADMIN_INVITATION_REVOKED = "admin_invitation_revoked"
    ADMIN_ACCOUNT_DISABLED = "admin_account_disabled"
    ADMIN_ACCOUNT_ENABLED = "admin_account_enabled"
    ADMIN_DEVICE_REVOKED = "admin_device_revoked"
    ACCOUNT_ERASED = "account_erased"  # requested by the person
    ADMIN_ACCOUNT_ERASED = "admin_account_erased"
    LINK_DISCHARGED = "link_discharged"  # recorded once for each side, naming only that side
    ADMIN_PRACTICE_CHANGED = "admin_practice_changed"  # the practice settings (on the admin's own entries)
    ADMIN_CUSTODIAN_SET = "admin_custodian_set"  # the practice's records custodian key configured
    ADMIN_CUSTODIAN_OFF = "admin_custodian_off"


def canonical_bytes(seq: int, prev_hash: str, record: NewAuditRecord) -> bytes:
    """The exact bytes that are hashed for entry ``seq`` (see the module docstring)."""
    details = dict(record.details)
    body = [seq, record.at, record.event, record.account_ref, record.actor_ref, details, prev_hash]
    return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def seal(seq: int, prev_hash: str, record: NewAuditRecord) -> str:
    return hashlib.sha256(canonical_bytes(seq, prev_hash, record)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int  # entries checked
    head_seq: int
    head_hash: str
    broken_at: int | None = None  # seq of the first entry that fails
    reason: str | None = None  # hash_mismatch | prev_mismatch | missing | truncated

    def to_wire(self) -> dict[str, object]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "broken_at": self.broken_at, "reason": self.reason}

    def verdict(self) -> str:
        if self.ok:
            return f"audit chain OK: {self.entries} entries, head {self.head_seq} {self.head_hash}"
        return f"audit chain BROKEN at entry {self.broken_at}: {self.reason} ({self.entries} entries checked)"


class _Checker:
    """Walks entries in order and remembers the first failure."""

    def __init__(self) -> None:
        self.expected_seq = 1
        self.prev = GENESIS_HASH
        self.count = 0
        self.broken: tuple[int, str] | None = None

    def feed(self, entry: AuditRecord) -> bool:
        if entry.seq != self.expected_seq:
            self.broken = (self.expected_seq, "missing")
            return False
        record = NewAuditRecord(at=entry.at, event=entry.event, account_ref=entry.account_ref,
                                actor_ref=entry.actor_ref, details=entry.details)
        if entry.prev_hash != self.prev:
            self.broken = (entry.seq, "prev_mismatch")
            return False
        if not hmac.compare_digest(seal(entry.seq, entry.prev_hash, record), entry.hash):
            self.broken = (entry.seq, "hash_mismatch")
            return False
        self.prev = entry.hash
        self.expected_seq += 1
        self.count += 1
        return True


def verify_entries(entries: Sequence[AuditRecord], head_seq: int, head_hash: str) -> ChainReport:
    """Check a complete, ordered list of entries against the recorded head."""
    checker = _Checker()
    for entry in entries:
        if not checker.feed(entry):
            break
    return _report(checker, head_seq, head_hash)


def _report(checker: _Checker, head_seq: int, head_hash: str) -> ChainReport:
    if checker.broken is not None:
        seq, reason = checker.broken
        return ChainReport(False, checker.count, head_seq, head_hash, seq, reason)
    last_seq = checker.expected_seq - 1
    if last_seq != head_seq or (head_seq and checker.prev != head_hash):
        return ChainReport(False, checker.count, head_seq, head_hash, last_seq + 1, "truncated")
    return ChainReport(True, checker.count, head_seq, head_hash)


class AuditRecorder(Protocol):
    """What services call. Recording never fails the caller's action: it already happened."""

    async def record(self, event: AuditEvent, *, account_id: str, actor_id: str | None = None,
                     device_id: str | None = None, role: str | None = None, version: int | None = None,
                     reason: str | None = None) -> None: ...


class NullAuditRecorder:
    async def record(self, event: AuditEvent, *, account_id: str, actor_id: str | None = None,
                     device_id: str | None = None, role: str | None = None, version: int | None = None,
                     reason: str | None = None) -> None:
        pass


class AuditService:
    """Appends pseudonymous events, verifies the chain, and shows an account its own entries."""

    def __init__(self, store: AuditStore, observer: Observer | None = None,
                 master_key: bytes | None = None) -> None:
        self._store = store
        self._observer: Observer = observer or NullObserver()
        # None only in tests that need no stable pseudonyms across restarts: a key for this process alone.
        self._master = master_key if master_key is not None else nacl.utils.random(32)
        self._box = nacl.secret.SecretBox(self._master)
        self._keys: dict[str, bytes] = {}  # account id -> its pseudonym key (cache; cleared by shred)

    def _index(self, account_id: str) -> str:
        return hmac.new(self._master, f"index:{account_id}".encode(), hashlib.sha256).digest()[:16].hex()

    async def _account_key(self, account_id: str) -> bytes:
        key = self._keys.get(account_id)
        if key is None:
            candidate = self._box.encrypt(os.urandom(32))
            sealed = await self._store.get_or_add_account_key(self._index(account_id), bytes(candidate))
            key = self._box.decrypt(sealed)
            if len(self._keys) >= _KEY_CACHE:
                self._keys.clear()
            self._keys[account_id] = key
        return key

    async def ref(self, kind: str, value: str, owner: str | None = None) -> str:
        """The pseudonym of ``value`` under the key of account ``owner`` (itself, for an account)."""
        key = await self._account_key(owner if owner is not None else value)
        return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).digest()[:16].hex()

    async def shred(self, account_id: str) -> bool:
        """Destroy the account's pseudonym key: its entries no longer name anyone. Idempotent."""
        self._keys.pop(account_id, None)
        return await self._store.delete_account_key(self._index(account_id))

    async def record(self, event: AuditEvent, *, account_id: str, actor_id: str | None = None,
                     device_id: str | None = None, role: str | None = None, version: int | None = None,
                     reason: str | None = None) -> None:
        try:
            await self.append(event, account_id=account_id, actor_id=actor_id, device_id=device_id,
                              role=role, version=version, reason=reason)
        except Exception as exc:  # the audited action is done; losing its record must be loud, not fatal
            log.error("audit append failed", extra={"event": AuditEvent(event).value,
                                                    "error": exc.__class__.__name__})

    async def append(self, event: AuditEvent, *, account_id: str, actor_id: str | None = None,
                     device_id: str | None = None, role: str | None = None, version: int | None = None,
                     reason: str | None = None, now: int | None = None) -> AuditRecord:
        details: dict[str, str | int] = {}
        if device_id is not None:
            details["device"] = await self.ref("device", device_id, owner=account_id)
        if role is not None:
            details["role"] = role
        if version is not None:
            details["version"] = int(version)
        if reason is not None:
            details["reason"] = reason
        for key, value in details.items():
            if key not in DETAIL_KEYS or (isinstance(value, str) and not _VALUE.match(value)):
                raise ValueError(f"audit detail {key!r} is not a short identifier")
        record = NewAuditRecord(
            at=now if now is not None else int(time.time() * 1000),
            event=AuditEvent(event).value,
            account_ref=await self.ref("account", account_id),
            actor_ref=await self.ref("account", actor_id) if actor_id and actor_id != account_id else "",
            details=tuple(sorted(details.items())),
        )
        entry = await self._store.append_entry(record, seal)
        self._observer.audit_appended(record.event)
        return entry

    async def verify(self) -> ChainReport:
        """Walk the whole chain in pages, from the retention floor (the newest entry deleted by age, whose
        hash the next entry must name); report the first broken link."""
        head = await self._store.get_head()
        head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
        checker = _Checker()
        after = 0
        floor = await self._store.get_floor()
        if floor is not None:
            checker.expected_seq, checker.prev, after = floor.seq + 1, floor.hash, floor.seq
        while True:
            page = await self._store.get_entries(after, PAGE)
            for entry in page:
                if not checker.feed(entry):
                    return _report(checker, head_seq, head_hash)
            if len(page) < PAGE:
                return _report(checker, head_seq, head_hash)
            after = page[-1].seq

    async def entries_of(self, account_id: str, device_ids: Sequence[str], before_seq: int | None,
                         limit: int) -> list[dict[str, object]]:
        """The account's own entries, newest first, with its own device references resolved."""
        me = await self.ref("account", account_id)
        devices = {await self.ref("device", d, owner=account_id): d for d in device_ids}
        out: list[dict[str, object]] = []
        for entry in await self._store.get_entries_of((me,), before_seq, limit):
            details: dict[str, object] = dict(entry.details)
            device = details.pop("device", None)
            if isinstance(device, str):
                details["device_id"] = devices.get(device)  # None: a device no longer on the account
            out.append({
                "seq": entry.seq,
                "at": entry.at,
                "event": entry.event,
                "by_admin": entry.actor_ref != "" and entry.account_ref == me,
                "details": details,
                "hash": entry.hash,
            })
        return out

    async def counts(self) -> dict[str, int]:
        return await self._store.count_entries_by_event()
