"""Schema migrations, applied in order and recorded in ``PRAGMA user_version``.

Every column has a reason; docs/STORAGE.md is the readable table of the same schema.
Ids are 32-char hex TEXT, keys and ciphertext BLOB, times INTEGER milliseconds.
"""

from __future__ import annotations

import sqlite3

from storage.errors import PROTOCOL_V1_REFUSED, ProtocolVersionRefused

__all__ = ["MIGRATIONS", "migrate"]

_V1 = """
CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('client', 'therapist', 'admin')),
    created_at INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE invitations (
    invitation_id TEXT PRIMARY KEY,
    code_hash BLOB NOT NULL UNIQUE,              -- SHA-256 of the code; the code itself is never stored
    inviter_id TEXT REFERENCES accounts(account_id) ON DELETE CASCADE,  -- NULL: operator CLI
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER,
    account_id TEXT REFERENCES accounts(account_id) ON DELETE SET NULL,
    label_ciphertext BLOB                         -- opaque; encrypted by the inviter to itself
);
CREATE INDEX invitations_by_inviter ON invitations(inviter_id);
CREATE INDEX invitations_by_expiry ON invitations(expires_at) WHERE used_at IS NULL;

CREATE TABLE links (
    therapist_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    label_ciphertext BLOB,
    PRIMARY KEY (therapist_id, client_id)
);
CREATE INDEX links_by_client ON links(client_id);

CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    identity_key BLOB NOT NULL,
    signed_prekey_id INTEGER NOT NULL,
    signed_prekey_public BLOB NOT NULL,
    signed_prekey_signature BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER                            -- kept so that senders get `stale`, not `extra`
);
CREATE INDEX devices_by_account ON devices(account_id);

CREATE TABLE one_time_prekeys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,        -- upload order: claims take the oldest first
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    prekey_id INTEGER NOT NULL,
    public BLOB NOT NULL,
    UNIQUE (device_id, prekey_id)                 -- a reused id is a conflict, never a silent overwrite
);
CREATE INDEX one_time_prekeys_by_device ON one_time_prekeys(device_id, seq);

CREATE TABLE link_codes (
    code_hash BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);

CREATE TABLE challenges (
    nonce BLOB PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);

CREATE TABLE tokens (
    token_hash BLOB PRIMARY KEY,                  -- SHA-256 of the bearer token
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX tokens_by_device ON tokens(device_id);

CREATE TABLE terms (
    therapist_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    text TEXT NOT NULL,                           -- public by nature: the client must read it
    terms_hash BLOB NOT NULL,
    published_at INTEGER NOT NULL,
    PRIMARY KEY (therapist_id, version)
);

CREATE TABLE consents (
    therapist_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    terms_hash BLOB NOT NULL,
    signed_at INTEGER NOT NULL,
    signature BLOB NOT NULL,                      -- kept as the client's proof of acceptance
    device_id TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    PRIMARY KEY (therapist_id, client_id, version)
);
CREATE INDEX consents_by_client ON consents(client_id);

CREATE TABLE sends (
    from_device TEXT NOT NULL,
    message_id TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (from_device, message_id)         -- makes a retried send a no-op
) WITHOUT ROWID;
CREATE INDEX sends_by_expiry ON sends(expires_at);

CREATE TABLE mailbox (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,        -- the stream position; never reused
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    from_account TEXT NOT NULL,
    from_device TEXT NOT NULL,
    type TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    sent_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX mailbox_by_device ON mailbox(device_id, pos);
CREATE INDEX mailbox_by_expiry ON mailbox(expires_at);
"""

_V2 = """
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),        -- one row: readiness rewrites it, the table never grows
    at INTEGER NOT NULL                           -- time of the last readiness write that committed
);
"""

# The appointment and audit tables. Before version 3 their modules created them on first use, outside
# ``user_version``: ``IF NOT EXISTS`` lets this step adopt the identical tables such a database already holds.
_V3 = """
CREATE TABLE IF NOT EXISTS appointments (
    session_id TEXT PRIMARY KEY,
    therapist_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,  -- the host
    starts_at INTEGER NOT NULL,                   -- the scheduled window: joins are refused outside it
    ends_at INTEGER NOT NULL,
    max_participants INTEGER NOT NULL,            -- clients admitted at once
    state TEXT NOT NULL CHECK (state IN ('scheduled', 'ended', 'cancelled')),  -- live states: broker
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    started_at INTEGER,                           -- first admission: the session really took place
    ended_at INTEGER
);
CREATE INDEX IF NOT EXISTS appointments_by_therapist ON appointments(therapist_id, ends_at);
CREATE TABLE IF NOT EXISTS appointment_participants (
    session_id TEXT NOT NULL REFERENCES appointments(session_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,  -- an invited client
    PRIMARY KEY (session_id, account_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS appointment_participants_by_account ON appointment_participants(account_id);
CREATE TABLE IF NOT EXISTS appointment_attendance (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES appointments(session_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    joined_at INTEGER NOT NULL,                   -- join/leave times: the only record of the call itself
    left_at INTEGER
);
CREATE INDEX IF NOT EXISTS appointment_attendance_by_session
    ON appointment_attendance(session_id, account_id);

CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,                      -- 1, 2, 3 ...: a gap is a deleted entry
    at INTEGER NOT NULL,
    event TEXT NOT NULL,                          -- a kind from server.audit.AuditEvent, never free text
    account_ref TEXT NOT NULL,                    -- keyed pseudonym of the owner: survives erasure unlinkable
    actor_ref TEXT NOT NULL,                      -- keyed pseudonym of who acted ('' = the owner)
    details TEXT NOT NULL,                        -- canonical JSON of short ids / numbers; no content
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_account ON audit_log(account_ref, seq);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit_log(actor_ref, seq);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),        -- one row: the newest seq and hash
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_secrets (
    name TEXT PRIMARY KEY,                        -- e.g. the pseudonym key; generated once
    value BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

_V4 = """
CREATE TABLE blobs (
    blob_id TEXT PRIMARY KEY,                     -- random, by the server; names the file of the bytes
    owner_account TEXT NOT NULL,                  -- quota and erasure (no FK: erasure deletes the files too)
    owner_device TEXT NOT NULL,
    to_account TEXT NOT NULL,                     -- who else may download: the conversation's other side
    size INTEGER NOT NULL,                        -- ciphertext bytes: quota, Range checks
    state TEXT NOT NULL CHECK (state IN ('pending', 'ready')),  -- pending: uploading, never served
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL                   -- pending: upload deadline; ready: the envelope TTL
);
CREATE INDEX blobs_by_owner ON blobs(owner_account);
CREATE INDEX blobs_by_expiry ON blobs(expires_at);

CREATE TABLE blob_pending (
    blob_id TEXT NOT NULL REFERENCES blobs(blob_id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,                      -- an addressed device that has not confirmed the fetch yet
    PRIMARY KEY (blob_id, device_id)
) WITHOUT ROWID;
"""

# Erasure (storage/erasure.py) and per-account audit pseudonym keys (server/audit.py). The one shared
# pseudonym key of version 3 is dropped: entries sealed under it then name no one (they still verify).
# Audit retention: entries up to the floor may be deleted (oldest first), nothing above it.
_V5 = """
CREATE TABLE erasure_jobs (
    account_id TEXT PRIMARY KEY,                  -- no foreign key: the account row goes before the job
    requested_at INTEGER NOT NULL,
    by_admin INTEGER NOT NULL                     -- 1: an administrator asked, 0: the person did
);
CREATE TABLE audit_account_keys (
    key_index TEXT PRIMARY KEY,                   -- keyed hash of the account id (key outside the database)
    sealed_key BLOB NOT NULL                      -- the account's pseudonym key, sealed by that outside key
) WITHOUT ROWID;
DELETE FROM audit_secrets WHERE name = 'pseudonym_key';
CREATE TABLE audit_floor (
    id INTEGER PRIMARY KEY CHECK (id = 1),        -- one row: the newest entry deleted by retention
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL                            -- verification starts from this hash
);
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq > COALESCE((SELECT seq FROM audit_floor WHERE id = 1), 0)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

# Protocol version 2 (docs/PROTOCOL.md): account keys and device certificates. Rows written before this
# step (schemas 1-5, protocol version 1) have neither, and there is no migration (no deployment existed):
# migrate() refuses such a database.
_V6 = """
ALTER TABLE accounts ADD COLUMN account_key BLOB;   -- Ed25519 public account key; certifies devices
ALTER TABLE devices ADD COLUMN certificate BLOB;    -- created_at u64 || account-key signature
"""

_V7 = """
CREATE TABLE vault_records (
    account_id TEXT NOT NULL,                     -- whose vault (no FK: erasure deletes it explicitly)
    record_id TEXT NOT NULL,                      -- random, chosen by the client; bound into the ciphertext
    version INTEGER NOT NULL,                     -- a write names the version it expects (concurrency)
    seq INTEGER NOT NULL,                         -- the account's change position at the last write: sync
    ciphertext BLOB NOT NULL,                     -- opaque: sealed under the vault key the server never has
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, record_id)
) WITHOUT ROWID;
CREATE INDEX vault_records_by_seq ON vault_records(account_id, seq);

CREATE TABLE vault_heads (
    account_id TEXT PRIMARY KEY,                  -- one row per account with a vault
    seq INTEGER NOT NULL                          -- change position: raised by every write and delete
) WITHOUT ROWID;

CREATE TABLE recovery_backups (
    account_id TEXT PRIMARY KEY,                  -- one backup per account; a new recovery key replaces it
    lookup_id TEXT NOT NULL UNIQUE,               -- derived from the recovery key: finds the backup
    verifier BLOB NOT NULL,                       -- SHA-256 of a key derived from the recovery key
    ciphertext BLOB NOT NULL,                     -- the account's secrets sealed under the recovery key
    created_at INTEGER NOT NULL
);
"""

# The practice's settings (storage/practice.py): one row, absent until an administrator sets them.
_V8 = """
CREATE TABLE practice_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),        -- one row per deployment
    require_verified_safety_numbers INTEGER NOT NULL,  -- clients enforce it (docs/TRUST.md)
    updated_at INTEGER NOT NULL
);
"""

# The records custodian (storage/custodian.py): the practice key and the copies sealed to it.
_V9 = """
CREATE TABLE custodian_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),        -- one practice key, or no row: the custodian is off
    public_key BLOB NOT NULL,                     -- X25519 public key; the private half is kept offline
    set_at INTEGER NOT NULL
);

CREATE TABLE custodian_copies (
    account_id TEXT NOT NULL,                     -- the therapist: kept after their erasure (legal duty)
    record_id TEXT NOT NULL,                      -- the vault record copied; bound into the copy
    version INTEGER NOT NULL,                     -- the record version copied: a late retry never wins
    custodian_key BLOB NOT NULL,                  -- the key it is sealed to: which offline key opens it
    ciphertext BLOB NOT NULL,                     -- opaque: sealed to the custodian key
    written_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, record_id)
) WITHOUT ROWID;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9)
FIRST_PROTOCOL_V2_SCHEMA = 6  # schema versions below this (but above 0) were written by protocol version 1


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the newest version; return it. Each step is one transaction."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this Confidant ({len(MIGRATIONS)}); upgrade"
        )
    if 0 < version < FIRST_PROTOCOL_V2_SCHEMA:
        raise ProtocolVersionRefused(PROTOCOL_V1_REFUSED)
    for index in range(version, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        for statement in _statements(MIGRATIONS[index]):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={index + 1}")
        conn.execute("COMMIT")
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    # sqlite3.complete_statement knows that a trigger's body (BEGIN ... END) holds inner ';'.
    out: list[str] = []
    buf = ""
    for line in script.splitlines():
        buf += line.split("--", 1)[0] + "\n"
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {buf.strip()[:60]!r}")
    return out
