"""Every limit the server enforces, each with its reason.

Protocol sizes come from ``crypto.limits`` so that the server and the clients can never disagree.
"""

from __future__ import annotations

from crypto import limits as _crypto
from crypto import primitives as _primitives

# --- protocol sizes ---
PUBLIC_KEY_BYTES = _primitives.X25519_PUBLIC_SIZE  # X25519 keys; Ed25519 public keys have the same size
SIGNATURE_BYTES = _primitives.ED25519_SIGNATURE_SIZE  # Ed25519
NONCE_BYTES = 32  # login challenge: enough entropy that guessing is hopeless
ENVELOPE_VERSION = 1  # the only envelope version this server relays (docs/PROTOCOL.md section 5)
MAX_ENVELOPE_CIPHERTEXT_BYTES = _crypto.MAX_ENVELOPE_BYTES  # one encoded envelope; big files are attachments
ENVELOPE_TYPES = ("prekey", "message")

# --- request sizes ---
MAX_HTTP_BODY_BYTES = 2 * 1024 * 1024  # one full send (20 envelopes of 64 KiB, base64) fits with room
MAX_SOCKET_MESSAGE_BYTES = 2 * 1024 * 1024  # same bound for a socket.io `send`
MAX_ENVELOPES_PER_SEND = 2 * 10  # every recipient device plus every other own device (2 x max devices)
MAX_SENDS_PER_BATCH = 32  # one outbox flush (the SDK encrypts 32 ahead); the socket message bound still holds
MAX_LABEL_CIPHERTEXT_BYTES = 1024  # an encrypted display name, never a document
MAX_TERMS_TEXT_BYTES = 64 * 1024  # several pages of terms; larger would be a document store

# --- accounts, devices, keys ---
MAX_DEVICES_PER_ACCOUNT = 10  # bounds fan-out per send and per bundle fetch (see MAX_OUTSTANDING_LINK_CODES)
MAX_PREKEYS_PER_UPLOAD = _crypto.PREKEY_BATCH_SIZE  # one request stays small
MAX_PREKEYS_STORED = _crypto.MAX_STORED_ONE_TIME_PREKEYS  # bounds storage per device; clients top up
PREKEYS_LOW_THRESHOLD = _crypto.PREKEY_LOW_WATER_MARK  # below this the device is told to upload more
MAX_PREKEY_ID = 2**32 - 1  # prekey ids are u32 on the wire (docs/PROTOCOL.md)

# --- lifetimes ---
CHALLENGE_TTL_SECONDS = 60  # a login round trip, with slack for slow links
LINK_CODE_TTL_SECONDS = 10 * 60  # long enough to scan or type the code and compare the strings
MAX_LINK_BUNDLE_B64_CHARS = 8 * 1024  # a sealed account bundle: keys and a few account secrets, never data
CERTIFICATE_CLOCK_SKEW_MS = 5 * 60 * 1000  # a certificate dated further in the future is a broken clock
MIN_INVITATION_TTL_SECONDS = 60  # shorter cannot be delivered to a person
MAX_INVITATION_TTL_SECONDS = 30 * 24 * 3600  # invitations are not standing credentials
CONSENT_CLOCK_SKEW_MS = 5 * 60 * 1000  # a consent signed in the future beyond device clock skew is refused

# --- mailbox ---
DEFAULT_SYNC_LIMIT = 100  # one sync page
MAX_SYNC_LIMIT = 500  # bounds one reply's size (500 x 64 KiB worst case)
SWEEP_INTERVAL_SECONDS = 60.0  # expiry is coarse-grained; reads also filter expired items

# --- rate limits: (events, window seconds); keyed by rule name in RATE_RULES ---
# Login limits are per IP only: a per-device count could be exhausted by anyone who knows a device id.
RATE_CHALLENGE_PER_IP = (30, 60.0)  # logins are rare; this stops nonce flooding
RATE_TOKEN_PER_IP = (30, 60.0)  # signature guessing is hopeless anyway; this bounds CPU
RATE_REDEEM_PER_IP = (10, 60.0)  # invitation guessing, link creation
RATE_LINK_POLL_PER_IP = (120, 60.0)  # a new device polls every second or so while the person compares
RATE_LINK_OFFER_PER_DEVICE = (20, 60.0)  # a person links a few devices; the per-account cap binds first
RATE_BUNDLE_PER_DEVICE = (60, 60.0)  # session starts are rare; this stops scraping keys
RATE_OTPK_CLAIM_PER_PAIR = (20, 3600.0)  # past this a requester gets bundles without one: no draining
RATE_INVITATION_CHECK_PER_IP = (30, 60.0)  # a person opens their link a few times; guessing stays hopeless
RATE_SEND_PER_DEVICE = (3000, 60.0)  # a human never sends 50 a second; a runaway client does
RATE_IPV6_PREFIX_BITS = 64  # per-IP limits count an IPv6 client's whole /64: it picks any address in it

# --- outstanding items per account (authenticated writes are bounded too) ---
# New device-link offers (approvals of a new device, PROTOCOL §17) per link lifetime, so at most twice this
# many pending at once: enough to link every device an account may have in one sitting.
MAX_OUTSTANDING_LINK_CODES = MAX_DEVICES_PER_ACCOUNT
MAX_OUTSTANDING_INVITATIONS = 50  # a therapist's intake in one invitation lifetime; unused ones expire
MAX_TERMS_VERSIONS = 32  # terms change a few times a year: decades of versions, at most 2 MiB per therapist

# --- shutdown (server/shutdown.py) ---
SHUTDOWN_INFLIGHT_SECONDS = 3.0  # a socket event's write takes milliseconds; one stuck on storage is cut
# In-flight HTTP requests after the sockets closed (aiohttp waits this long, cancels, then waits as long again
# for the cancellation); API handlers take milliseconds, a websocket whose client never closes is cut.
SHUTDOWN_HTTP_SECONDS = 1.0
SHUTDOWN_RECONNECT_AFTER_MS = 500  # clients wait about this long, so a restarting node is not stampeded

RATE_CALL_SIGNAL_PER_DEVICE = (600, 60.0)  # a call with trickle ICE needs a few dozen signals a minute

# --- administration and audit ---
MAX_STAFF_LISTED = 1000  # admins and therapists in one listing; bounds the reply, far above any practice
DEFAULT_AUDIT_PAGE = 50  # an account's own audit entries per page when the client does not say
MAX_AUDIT_PAGE = 200  # bounds one reply's size
MAX_EXPORT_ITEMS = 1000  # bounds one export: appointments, waiting envelopes counted, audit entries

# --- the encrypted account vault (docs/PROTOCOL.md section 22) ---
MAX_VAULT_RECORD_BYTES = 65535  # one note (tens of pages); a multiple of 3: the base64 length bound is exact
MAX_CUSTODIAN_COPY_BYTES = 65568  # a vault record plus its 32-byte ephemeral key, up to a multiple of 3
MAX_VAULT_RECORDS = 10_000  # years of weekly notes for a full caseload; bounds an account to ~640 MiB
DEFAULT_VAULT_PAGE = 50  # changed records per sync reply when the client does not say
MAX_VAULT_PAGE = 100  # bounds one reply (100 x 64 KiB, base64) well under a few MiB
MAX_RECOVERY_BACKUP_BYTES = 4095  # a few 32-byte keys and their framing; a multiple of 3 (exact base64)
RATE_VAULT_WRITE_PER_DEVICE = (600, 60.0)  # autosave every few seconds on a few notes; stops a runaway client
RATE_RECOVERY_PER_IP = (10, 3600.0)  # restores are rare; guessing a 128-bit key is hopeless anyway
RATE_RECOVERY_PER_LOOKUP = (5, 3600.0)  # tries against one backup, whoever makes them

# --- presence ---
PRESENCE_TTL_SECONDS = 120.0  # refreshed while connected; expires if a node dies

RATE_RULES: dict[str, tuple[int, float]] = {
    "challenge_per_ip": RATE_CHALLENGE_PER_IP,
    "token_per_ip": RATE_TOKEN_PER_IP,
    "redeem_per_ip": RATE_REDEEM_PER_IP,
    "link_poll_per_ip": RATE_LINK_POLL_PER_IP,
    "link_offer_per_device": RATE_LINK_OFFER_PER_DEVICE,
    "bundle_per_device": RATE_BUNDLE_PER_DEVICE,
    "otpk_claim_per_pair": RATE_OTPK_CLAIM_PER_PAIR,
    "send_per_device": RATE_SEND_PER_DEVICE,
    "invitation_check_per_ip": RATE_INVITATION_CHECK_PER_IP,
    "vault_write_per_device": RATE_VAULT_WRITE_PER_DEVICE,
    "recovery_per_ip": RATE_RECOVERY_PER_IP,
    "recovery_per_lookup": RATE_RECOVERY_PER_LOOKUP,
}
