"""Collections and indexes of the MongoDB adapter, created at start (``create_index`` is idempotent).

Documents mirror the SQLite tables (storage/sqlite/schema.py; docs/STORAGE.md explains every field):
ids are 32-char hex strings, keys and ciphertext binary, times integer milliseconds. Documents that expire
also carry ``expire_on`` (a date) for a TTL index; the TTL index only cleans up, reads filter ``expires_at``.

| collection | _id | why the unique indexes exist |
|---|---|---|
| accounts | account_id | |
| invitations | invitation_id | code_hash: a code redeems exactly one invitation |
| links | auto | (therapist_id, client_id): one link per pair |
| devices | device_id | |
| one_time_prekeys | auto | (device_id, prekey_id): a reused id is a conflict, never an overwrite |
| link_codes | code_hash | |
| challenges | nonce | |
| tokens | token_hash | |
| terms | auto | (therapist_id, version): two racing publications cannot both get one version |
| consents | auto | (therapist_id, client_id, version): re-accepting keeps the first proof |
| sends | auto | (from_device, message_id): a retried send is a no-op |
| mailbox | auto | (device_id, pos): one item per stream position; (device_id, from_device, message_id): a
|  |  | retry that completes a half-stored send (no transactions) never stores an envelope twice |
| audit_log | seq | ``_id`` itself: two racing appends cannot both take one seq (storage/mongodb/audit.py) |
| appointments | session_id | (appointment_attendance.open_key, sparse): one open attendance per account |
| counters | device_id | ``high``: highest stream position handed out or acked; ``otk_seq``: upload order |
| erasure_jobs | account_id | one job per account: a repeated request joins the running erasure |
| audit_account_keys | key_index | one sealed pseudonym key per account (server/audit.py) |
| heartbeat | "readiness" | one document, rewritten by the readiness check to prove writes commit |
| blob_meta | blob_id | none: the id is random; no TTL index (the sweeper must also delete the GridFS bytes) |
| blob_usage | account_id | ``used``: stored + uploading bytes, raised by one conditional ``$inc`` (quota) |
| blobs.files, blobs.chunks | GridFS | the blob bytes (ciphertext); GridFS creates its own indexes |
| vault_records | "<account>:<record>" | ``_id`` itself: one record per id |
| vault_heads | account_id | ``seq``: change position; ``count``: raised by one conditional ``$inc`` |
| recovery_backups | account_id | lookup_id: a recovery key finds exactly one backup |
| practice_settings | "practice" | ``_id`` itself: one document per deployment |
| custodian_key | "custodian" | one document: the practice's custodian public key, absent when off |
| custodian_copies | "<account>:<record>" | ``_id`` itself: one copy per record |
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING

__all__ = ["INDEXES", "create_indexes"]

_UNIQUE = {"unique": True}
_TTL = {"expireAfterSeconds": 0}

# collection -> [(keys, options)]
INDEXES: dict[str, list[tuple[list[tuple[str, int]], dict[str, Any]]]] = {
    "invitations": [
        ([("code_hash", ASCENDING)], _UNIQUE),
        ([("inviter_id", ASCENDING), ("created_at", ASCENDING)], {}),
        # Only unused invitations carry expire_on: a used one stays as the inviter's record.
        ([("expire_on", ASCENDING)], _TTL),
    ],
    "links": [
        ([("therapist_id", ASCENDING), ("client_id", ASCENDING)], _UNIQUE),
        ([("client_id", ASCENDING)], {}),
    ],
    "devices": [([("account_id", ASCENDING), ("created_at", ASCENDING)], {})],
    "one_time_prekeys": [
        ([("device_id", ASCENDING), ("prekey_id", ASCENDING)], _UNIQUE),
        # Claims take the oldest key first: find_one_and_delete sorted on this index.
        ([("device_id", ASCENDING), ("seq", ASCENDING)], {}),
    ],
    "link_codes": [([("expire_on", ASCENDING)], _TTL)],
    "challenges": [([("expire_on", ASCENDING)], _TTL)],
    "tokens": [([("device_id", ASCENDING)], {}), ([("expire_on", ASCENDING)], _TTL)],
    "terms": [([("therapist_id", ASCENDING), ("version", DESCENDING)], _UNIQUE)],
    "consents": [
        ([("therapist_id", ASCENDING), ("client_id", ASCENDING), ("version", DESCENDING)], _UNIQUE),
        ([("client_id", ASCENDING)], {}),
    ],
    "sends": [
        ([("from_device", ASCENDING), ("message_id", ASCENDING)], _UNIQUE),
        ([("expires_at", ASCENDING)], {}),
        ([("expire_on", ASCENDING)], _TTL),
    ],
    "audit_log": [
        ([("account_ref", ASCENDING), ("_id", ASCENDING)], {}),
        ([("actor_ref", ASCENDING), ("_id", ASCENDING)], {}),
    ],
    "appointments": [
        ([("therapist_id", ASCENDING), ("ends_at", ASCENDING)], {}),
        ([("participants", ASCENDING), ("ends_at", ASCENDING)], {}),
    ],
    # open_key exists only while a row is open: one open attendance per (session, account).
    "appointment_attendance": [
        ([("session_id", ASCENDING), ("joined_at", ASCENDING)], {}),
        ([("open_key", ASCENDING)], {"unique": True, "sparse": True}),
    ],
    "blob_meta": [([("owner_account", ASCENDING)], {}), ([("expires_at", ASCENDING)], {})],
    "vault_records": [([("account_id", ASCENDING), ("seq", ASCENDING)], {})],
    "recovery_backups": [([("lookup_id", ASCENDING)], _UNIQUE)],
    "custodian_copies": [([("account_id", ASCENDING), ("record_id", ASCENDING)], {})],
    "mailbox": [
        ([("device_id", ASCENDING), ("pos", ASCENDING)], _UNIQUE),
        ([("device_id", ASCENDING), ("from_device", ASCENDING), ("message_id", ASCENDING)], _UNIQUE),
        ([("expires_at", ASCENDING)], {}),
        ([("expire_on", ASCENDING)], _TTL),
    ],
}


async def create_indexes(db: Any) -> None:
    """Create every index; a no-op for the ones that exist with the same options."""
    for collection, indexes in INDEXES.items():
        for keys, options in indexes:
            await db[collection].create_index(keys, **options)
