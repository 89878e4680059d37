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

# Protocol version 2 (docs/PROTOCOL.md): account keys and device certificates. Version-1 rows would have
# neither, and there is no migration (no deployment existed): migrate() refuses such a database.
_V3 = """
ALTER TABLE accounts ADD COLUMN account_key BLOB;   -- Ed25519 public account key; certifies devices
ALTER TABLE devices ADD COLUMN certificate BLOB;    -- created_at u64 || account-key signature
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
FIRST_PROTOCOL_V2_SCHEMA = 3  # schema versions below this (but above 0) were written by protocol version 1


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
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
