"""Every limit of the protocol, in one place, each with its reason.

The server imports from here (`from crypto.limits import MAX_ENVELOPE_BYTES, ...`): these names are stable.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ATTACHMENT_CHUNK_BYTES",
    "CLAIMED_PREKEY_GRACE_SECONDS",
    "DEVICE_ID_BYTES",
    "HISTORY_CHUNK_BYTES",
    "HISTORY_CHUNK_MESSAGES",
    "LINK_SAS_DIGITS",
    "MAX_ACCOUNT_SECRETS",
    "MAX_ACCOUNT_SECRET_BYTES",
    "MAX_ATTACHMENT_BYTES",
    "MAX_ENVELOPE_BYTES",
    "MAX_FILE_NAME_BYTES",
    "MAX_NAME_CHARS",
    "MAX_PLAINTEXT_BYTES",
    "MAX_PREVIOUS_CHAINS",
    "MAX_RECEIPT_IDS",
    "MAX_REPLAY_ENTRIES",
    "MAX_SIGNAL_PLAINTEXT_BYTES",
    "MAX_SKIP",
    "MAX_SKIPPED_KEYS",
    "MAX_STORED_ONE_TIME_PREKEYS",
    "MAX_THUMBNAIL_BYTES",
    "PADDING_BLOCK_BYTES",
    "PREKEY_BATCH_SIZE",
    "PREKEY_LOW_WATER_MARK",
    "SIGNED_PREKEY_GRACE_SECONDS",
    "SIGNED_PREKEY_ROTATION_SECONDS",
]

# Messages are padded to a multiple of this (as Signal does) so ciphertext lengths leak little.
PADDING_BLOCK_BYTES: Final = 160

# Device and account ids are 16 random bytes (32 lowercase hex characters in JSON).
DEVICE_ID_BYTES: Final = 16

# One encoded envelope; the server refuses larger ones before storing anything. Big files are attachments.
MAX_ENVELOPE_BYTES: Final = 64 * 1024

# Largest message plaintext: padded (64_160 bytes) plus the largest envelope overhead fits MAX_ENVELOPE_BYTES.
MAX_PLAINTEXT_BYTES: Final = 64_000

# Message keys one message may make a chain skip; bounds the work a single hostile header can cause.
MAX_SKIP: Final = 1000

# Skipped message keys kept per session; beyond it the oldest are evicted (those messages become unreadable).
MAX_SKIPPED_KEYS: Final = 2000

# Previous receiving ratchet keys remembered to tell a replay from an old chain apart from garbage.
MAX_PREVIOUS_CHAINS: Final = 8

# One-time prekeys uploaded per call (the server refuses larger batches).
PREKEY_BATCH_SIZE: Final = 100

# One-time prekeys a device may have stored on the server.
MAX_STORED_ONE_TIME_PREKEYS: Final = 1000

# Below this many stored one-time prekeys the server asks the device to upload a new batch.
PREKEY_LOW_WATER_MARK: Final = 10

# Plaintext bytes per secretstream chunk: streams in small pieces; the 17-byte overhead per chunk is noise.
ATTACHMENT_CHUNK_BYTES: Final = 64 * 1024

# Largest attachment plaintext (the server's blob limit adds the per-chunk overhead on top).
MAX_ATTACHMENT_BYTES: Final = 100 * 1024 * 1024

# A file message's image thumbnail (JPEG, inside the message): a preview, small enough for one envelope.
MAX_THUMBNAIL_BYTES: Final = 16 * 1024

# A file message's file name in UTF-8 bytes: the common file system limit.
MAX_FILE_NAME_BYTES: Final = 255

# Largest boxed signaling plaintext: an SDP offer with many candidates stays well below this.
MAX_SIGNAL_PLAINTEXT_BYTES: Final = 32 * 1024

# A new signed prekey every week bounds how long a replayed session start can be tried.
SIGNED_PREKEY_ROTATION_SECONDS: Final = 7 * 24 * 3600

# A replaced signed prekey's secret outlives the mailbox TTL (30 days) before it and its replay entries go.
SIGNED_PREKEY_GRACE_SECONDS: Final = 35 * 24 * 3600

# A claimed-but-unused one-time prekey secret waits as long for its prekey message, then is deleted.
CLAIMED_PREKEY_GRACE_SECONDS: Final = 35 * 24 * 3600

# Accepted initial messages remembered per device; the oldest signed prekey's entries are dropped first.
MAX_REPLAY_ENTRIES: Final = 100_000

# Entries in an account-secrets bundle sent at linking, and the size of one (a key, a small record).
MAX_ACCOUNT_SECRETS: Final = 16
MAX_ACCOUNT_SECRET_BYTES: Final = 4096

# Digits of the comparison string shown on both devices while linking (a 1 in 10^6 chance for a relay).
LINK_SAS_DIGITS: Final = 6
# --- the account vault (docs/PROTOCOL.md section 22) ---
MAX_VAULT_PLAINTEXT_BYTES = 64000  # one record's body (a long note); sealed it stays under 64 KiB
# A history record (section 22.6): a day or two of a conversation, rewritten whole on each append, so small.
HISTORY_CHUNK_MESSAGES: Final = 200
HISTORY_CHUNK_BYTES: Final = 48000  # its encoded body, under MAX_VAULT_PLAINTEXT_BYTES with room to spare
# --- names (docs/PROTOCOL.md section 23) ---
MAX_NAME_CHARS: Final = 64  # a display name or a contact's name, in code points: one line on a phone

# Message ids in one delivery receipt: a receipt lists what one page of the mailbox delivered from one sender,
# and both clients pull pages of 200 (client/realtime.py and app/messenger.js SYNC_PAGE).
MAX_RECEIPT_IDS: Final = 200
