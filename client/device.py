"""The high-level device: register or open a keystore, log in, stay connected, send and receive messages.

    device = await Device.register(url, invitation_code, path, passphrase)
    await device.accept_terms(therapist_id)                 # clients, before the first message
    message_id = await device.send(therapist_id, "hello")   # acknowledged by the server when this returns
    async for message in device.messages():                 # decrypted, de-duplicated, in stream order
        ...

Guarantees (docs/SDK.md):
- Send: the payload is written to the keystore's outbox before anything goes on the wire; one worker
  sends the outbox in order with the same message id until the server acknowledges it (after a restart
  too), so the server's idempotency makes retries harmless. ``device_set_mismatch`` refreshes the device
  sets, drops sessions of extra or stale devices, starts sessions for missing ones and re-encrypts.
- Receive: envelopes are decrypted in stream order; the session state, the decrypted message and the new
  cursor are saved in one keystore write before the position is acknowledged to the server.
- Trust is per account (client/trust.py): only devices certified by a contact's pinned account key are
  encrypted to or read from; a changed account key is reported as :class:`KeyChanged` and blocks sending
  to that contact (queued messages wait) until ``accept_new_key`` or ``verify``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client._enrol import new_state, parse_invitation
from client._keys import (
    auth_message,
    consent_message,
    device_payload,
    terms_hash,
)
from client._sendport import DeviceSendPort
from client._wire import b64d, b64e, new_id, now_ms
from client.api import ApiClient
from client.errors import ApiError, KeyChanged, TransportError, UntrustedDevice
from client.file_pointer import FilePointer
from client.inbox import Inbox
from client.keystore import Keystore
from client.linking import LinkApproval, LinkedAccount, LinkRequest
from client.maintenance import INITIAL_PREKEYS, PrekeyUpkeep
from client.names import Profile
from client.outbox import Outbox
from client.payload import Payload, PayloadError, Receipt
from client.realtime import Realtime
from client.sessions import SessionBook
from client.state import DeviceState, StoredMessage
from client.trust import CertifiedDevice, TrustBook
from client.vault import Vault
from crypto import (
    AccountKeyPair,
    CryptoError,
    DeviceCertificate,
    IdentityKeyPair,
    SignedPreKeyPair,
    fingerprint,
    generate_one_time_prekeys,
)
from crypto import vault as vc
from crypto.limits import MAX_RECEIPT_IDS

__all__ = ["Contact", "Device", "Message", "parse_invitation"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
MAX_HELD = 1000  # envelopes kept from a contact whose key changed, until the person decides
YIELD_EVERY = 25  # envelopes decrypted between two yields to the event loop
ACK_FOLD_S = 0.25  # how long an acknowledgement waits for a pull to carry it before it goes alone
ACK_ON_CLOSE_S = 2.0  # a pending acknowledgement is sent on close unless the server is this slow


@dataclass(frozen=True)
class Message:
    id: str
    from_account: str
    from_device: str
    body: str | bytes | FilePointer  # a FilePointer for a file: client.files.download_file fetches it
    sent_at: int  # the sender's clock (inside the ciphertext), ms
    to_account: str  # the conversation: the recipient account (differs from ours on own-device copies)


@dataclass(frozen=True)
class Contact:
    account_id: str
    role: str
    accepted_version: int | None
    current_version: int | None
    devices: tuple[str, ...]  # certified by the accepted account key
    verified: bool = False  # safety number compared, or verified by the invitation link
    blocked: bool = False  # the account key changed and was not accepted: nothing is sent


class Device:
    def __init__(
        self,
        keystore: Keystore,
        *,
        source_host: str | None = None,
        api_timeout: float = 30.0,
        connect_timeout: float = 30.0,
        receipts: bool = True,
    ) -> None:
        self.store = keystore
        self._send_receipts = receipts  # off: this instance sends no delivery receipts (it still reads them)
        self.state = DeviceState(keystore)
        self._recovery_key: str | None = None  # set once by register, taken by take_recovery_key
        self.identity = IdentityKeyPair.from_bytes(b64d(self.state.identity_seed))
        self.account_key = AccountKeyPair(b64d(self.state.account_seed))
        self.book = SessionBook(self.state, self.identity)
        self.inbox = Inbox(self.state)
        self.trust = TrustBook(self.state, self.account_key.public)
        self.prekeys = PrekeyUpkeep(self)
        self.api = ApiClient(
            self.state.server_url, reauth=self._relogin, source_host=source_host, timeout=api_timeout
        )
        self.realtime = Realtime(
            self.state.server_url,
            self._token,
            lambda: int(self.state.cursor),
            self._on_envelopes,
            self._on_event,
            call_timeout=api_timeout,
            fold_ack=self._fold_ack,
        )
        self._connect_timeout = connect_timeout
        self.events: asyncio.Queue[KeyChanged | JSON] = asyncio.Queue()
        self.lock = asyncio.Lock()
        self._inbox_changed = asyncio.Event()
        self.outbox = Outbox(self.state.outbox, keystore, DeviceSendPort(self))
        self._tasks: list[asyncio.Task[None]] = []
        self._login_lock = asyncio.Lock()
        self._ack_wanted = 0
        self._ack_sent = 0
        self._ack_task: asyncio.Task[None] | None = None
        self._landing: asyncio.Task[None] | None = None  # the last page handed to the writer (_on_envelopes)
        self._payloads: dict[str, Payload] = {}  # inbox key -> its payload, decoded when it was decrypted
        self._receipts: dict[str, list[str]] = {}  # sender account -> ids kept since the last staged page
        self._closed = False

    def __repr__(self) -> str:
        return f"Device(account={self.account_id}, device={self.device_id})"

    @property
    def account_id(self) -> str:
        return str(self.state.account_id)

    @property
    def device_id(self) -> str:
        return str(self.state.device_id)

    @property
    def role(self) -> str:
        return str(self.state.role)

    @property
    def keystore_path(self) -> Path:
        return self.store.path

    async def save(self, durable: bool = True) -> None:
        """Write every changed record to the keystore (one transaction, off the event loop)."""
        await self.store.commit(durable)

    # -- creation ------

    @classmethod
    async def register(
        cls,
        server_url: str,
        invitation: str,
        keystore_path: Path | str,
        passphrase: str,
        *,
        kdf: str = "interactive",
        connect: bool = True,
        source_host: str | None = None,
        **opts: Any,
    ) -> Device:
        """Create an account from an invitation code or link, with this new device as its first device.

        A link carrying the inviter's fingerprint (``.../#/join/<code>/<fp>``) verifies the inviter's account
        key at once; a mismatch (a server that swapped it) blocks the contact (``KeyChanged``)."""
        code, inviter_fp = parse_invitation(invitation)
        identity, account_key = IdentityKeyPair.generate(), AccountKeyPair.generate()
        account_id, device_id = new_id(), new_id()
        certificate = DeviceCertificate.issue(
            account_key, bytes.fromhex(account_id), bytes.fromhex(device_id), identity.public, now_ms()
        )
        spk = SignedPreKeyPair.generate(identity, 1)
        otks = generate_one_time_prekeys(1, INITIAL_PREKEYS)
        keystore = await asyncio.to_thread(Keystore.create, Path(keystore_path), passphrase, kdf=kdf)
        created: JSON | None = None
        try:
            account = {"account_id": account_id, "account_key": b64e(account_key.public.to_bytes())}
            async with ApiClient(server_url, source_host=source_host) as api:
                created = await api.create_account(
                    code, account, device_payload(device_id, identity, certificate, spk, otks)
                )
            state = DeviceState(keystore)
            # The account's vault key is made with the account (docs/PROTOCOL.md §22), kept with its secrets.
            vault_key = {str(vc.SECRET_VAULT_KEY): b64e(vc.new_vault_key())}
            new_state(state, server_url, created, identity, account_key, certificate, spk, otks, vault_key)
            if inviter_fp is not None and created.get("linked_account_id"):
                state.invitation_fingerprints[str(created["linked_account_id"])] = inviter_fp
            await keystore.commit()
        except BaseException:
            await keystore.close()
            if created is None:  # no account was made: leave no keystore behind, a retry starts clean
                keystore.remove_files()
            raise
        device = cls(keystore, source_host=source_host, **opts)
        await device.start(connect=connect)
        # The recovery key, made now and shown once (take_recovery_key). Unreachable server: the account
        # stands; the app makes one later with Vault.create_recovery_key().
        with contextlib.suppress(ApiError, TransportError):
            device._recovery_key = await Vault.of(device).create_recovery_key()
        return device

    def take_recovery_key(self) -> str | None:
        """The recovery key made with this account (``Device.register``), once: show it to the person, who
        keeps it to restore the account after losing every device (client/recovery.py). None afterwards, on
        any other device, or when the server could not be reached for it."""
        text, self._recovery_key = self._recovery_key, None
        return text

    @staticmethod
    async def request_link(server_url: str, *, source_host: str | None = None) -> LinkRequest:
        """A new device asks to join an account: show ``request.code``, then see client/linking.py."""
        return await LinkRequest.start(server_url, source_host=source_host)

    @classmethod
    async def from_link(
        cls,
        server_url: str,
        link_id: str,
        linked: LinkedAccount,
        keystore_path: Path | str,
        passphrase: str,
        *,
        kdf: str = "interactive",
        connect: bool = True,
        source_host: str | None = None,
        **opts: Any,
    ) -> Device:
        """Register the new device with the certificate an existing device issued (after linking)."""
        spk = SignedPreKeyPair.generate(linked.identity, 1)
        otks = generate_one_time_prekeys(1, INITIAL_PREKEYS)
        keystore = await asyncio.to_thread(Keystore.create, Path(keystore_path), passphrase, kdf=kdf)
        try:
            payload = device_payload(linked.device_id, linked.identity, linked.certificate, spk, otks)
            async with ApiClient(server_url, source_host=source_host) as api:
                created = await api.register_linked_device(link_id, payload)
            secrets = {str(k): b64e(v) for k, v in linked.secrets.items()}
            state = DeviceState(keystore)
            new_state(
                state,
                server_url,
                created,
                linked.identity,
                linked.account_key,
                linked.certificate,
                spk,
                otks,
                secrets,
            )
            await keystore.commit()
        except BaseException:
            await keystore.close()
            raise
        device = cls(keystore, source_host=source_host, **opts)
        await device.start(connect=connect)
        return device

    async def approve_link(self, code: str) -> LinkApproval:
        """An existing device answers a new device's code; compare ``.comparison``, then ``.approve()``."""
        return await LinkApproval.start(self, code)

    @classmethod
    async def open(
        cls,
        keystore_path: Path | str,
        passphrase: str,
        *,
        server_url: str | None = None,
        connect: bool = True,
        **opts: Any,
    ) -> Device:
        """Open an existing keystore (locked until ``close``), log in, and (by default) connect; the mailbox
        is drained in the background and unsent outbox entries are resent. A failure stops everything this
        call started and releases the keystore. ``opts``: ``api_timeout``, ``connect_timeout`` (seconds)."""
        keystore = await asyncio.to_thread(Keystore.open, Path(keystore_path), passphrase)
        try:
            if server_url is not None:
                DeviceState(keystore).server_url = server_url.rstrip("/")
            device = cls(keystore, **opts)
        except BaseException:
            await keystore.close()
            raise
        await device.start(connect=connect)
        return device

    async def start(self, *, connect: bool = True) -> None:
        """Log in, connect (the mailbox drains in the background, page by page) and start the outbox.
        On any failure, everything started here is stopped and the keystore closed before re-raising."""
        try:
            await self.login()
            await self.refresh_devices()
            with contextlib.suppress(ApiError, TransportError):
                await self.prekeys.run_once()
            self._tasks.append(asyncio.create_task(self.outbox.run(), name="confidant-outbox"))
            if connect:
                self.realtime.start()
                await self.realtime.wait_connected(self._connect_timeout)
            self.outbox.wake()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Disconnect, stop every background task, write what is staged and release the keystore."""
        if self._closed:
            return
        self._closed = True
        if self._ack_wanted > self._ack_sent and self.realtime.connected.is_set():
            # Not needed for correctness (the next pull redelivers and de-duplication drops them), but it
            # spares the server keeping what this device already stored.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ack(self._ack_wanted), ACK_ON_CLOSE_S)
        await self.realtime.stop()
        if self._landing is not None:
            self._tasks.append(self._landing)  # its write completes anyway (store.close waits for it)
        if self._ack_task is not None:
            self._tasks.append(self._ack_task)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self.outbox.abandon()
        await self.api.close()
        await self.store.close()

    async def __aenter__(self) -> Device:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- authentication ------

    async def login(self) -> str:
        """Challenge-response login; keeps the bearer token in memory only."""
        async with self._login_lock:
            challenge = await self.api.auth_challenge(self.device_id)
            signature = self.identity.sign(auth_message(b64d(challenge["nonce"]), self.device_id))
            token = await self.api.auth_token(self.device_id, challenge["nonce"], b64e(signature))
            self.api.token = str(token["token"])
            return self.api.token

    async def _relogin(self) -> str:
        return await self.login()

    async def _token(self, refresh: bool) -> str:
        if refresh or self.api.token is None:
            return await self.login()
        return self.api.token

    # -- accounts, invitations, consent ------

    async def contacts(self) -> list[Contact]:
        """Linked accounts with consent state and their certified devices (client/trust.py): pins account
        keys, reports key changes, new and uncertified devices on ``events``."""
        listing = (await self.api.contacts())["contacts"]
        out = []
        notices: list[KeyChanged | JSON] = []
        async with self.lock:
            for c in listing:
                account_id = str(c["account_id"])
                notices += self.trust.observe(account_id, b64d(c["account_key"]), list(c.get("devices", [])))
                consent = c.get("consent") or {}
                out.append(
                    Contact(
                        account_id,
                        c["role"],
                        consent.get("accepted_version"),
                        consent.get("current_version"),
                        tuple(self.state.device_sets.get(account_id, [])),
                        self.trust.is_verified(account_id),
                        self.trust.is_blocked(account_id),
                    )
                )
            await self.save()
        for notice in notices:
            self.events.put_nowait(notice)
        if any(isinstance(n, dict) and n.get("event") == "key_restored" for n in notices):
            await self._release_held()
        return out

    async def refresh_devices(self) -> None:
        """Refresh our own certified device set (for copies to our other devices)."""
        me = await self.api.me()
        async with self.lock:
            notices = self.trust.observe(self.account_id, b"", list(me.get("devices", [])))
            await self.save()
        for notice in notices:
            self.events.put_nowait(notice)

    # -- trust decisions (docs/SDK.md "Trust") ------

    def certified_devices(self, account_id: str) -> list[CertifiedDevice]:
        """Devices of ``account_id`` certified by its accepted account key (none while blocked): the only
        devices to call, admit or accept signaling from."""
        return self.trust.certified_devices(account_id)

    def safety_number(self, account_id: str) -> str:
        return fingerprint.format_safety_number(self.trust.safety_number(account_id))

    async def verify(self, account_id: str) -> None:
        """The person compared the safety number (of the new key, if it changed): trusted and verified."""
        async with self.lock:
            self.trust.mark_verified(account_id)
            await self.save()
        await self.contacts()
        await self._release_held()

    async def accept_new_key(self, account_id: str) -> None:
        """The person accepts a changed account key without verifying it: sending resumes."""
        async with self.lock:
            self.trust.accept_new_key(account_id)
            await self.save()
        await self.contacts()
        await self._release_held()

    async def _release_held(self) -> None:
        """Envelopes held while a contact was blocked are decrypted now; queued sends resume."""
        async with self.lock:
            held = [item for _, item in list(self.state.held.items())]
            self.state.held.clear()
            try:
                for item in held:
                    self._keep(await self._decrypt_item(item))
            finally:
                self.inbox.stage()
                self._queue_receipts()
            await self.save()
        if held:
            self._inbox_changed.set()
        self.outbox.wake()

    async def lock_device(self) -> None:
        """ "Lock": revoke the bearer token on the server (its sockets close), then close."""
        with contextlib.suppress(ApiError, TransportError):
            await self.api.logout()
        self.api.token = None
        await self.close()

    async def remove_this_device(self) -> None:
        """ "Remove this account from this device": revoke the device on the server first, then delete the
        keystore. Raises (and deletes nothing) if the server could not be told."""
        await self.api.revoke_device(self.device_id)
        path = self.keystore_path
        await self.close()
        for leftover in (path, *path.parent.glob(path.name + "*")):
            leftover.unlink(missing_ok=True)

    async def invite(
        self, role: str, ttl_seconds: int | None = None, label_ciphertext: bytes | None = None
    ) -> JSON:
        """Admins invite therapists, therapists invite clients: ``{invitation_id, code, expires_at, url}``."""
        label = b64e(label_ciphertext) if label_ciphertext is not None else None
        created = await self.api.create_invitation(role, ttl_seconds, label)
        # The fragment is ours, not the server's: the invitee checks our account key against it.
        fp = fingerprint.invitation_fingerprint_text(self.account_key.public, bytes.fromhex(self.account_id))
        created["url"] = f"{created['url']}/{fp}"
        return created

    async def invite_client(
        self, ttl_seconds: int | None = None, label_ciphertext: bytes | None = None
    ) -> JSON:
        return await self.invite("client", ttl_seconds, label_ciphertext)

    async def invite_therapist(
        self, ttl_seconds: int | None = None, label_ciphertext: bytes | None = None
    ) -> JSON:
        return await self.invite("therapist", ttl_seconds, label_ciphertext)

    async def publish_terms(self, text: str) -> JSON:
        return await self.api.publish_terms(text)

    async def accept_terms(self, therapist_id: str) -> JSON:
        """Fetch the therapist's current terms, check their hash, sign and submit the consent."""
        terms = await self.api.get_terms(therapist_id)
        digest = terms_hash(terms["text"])
        if b64e(digest) != terms["terms_hash"] and digest.hex() != terms["terms_hash"]:
            raise ApiError("invalid_field", "The server's terms hash does not match the terms text.")
        signed_at = now_ms()
        version = int(terms["version"])
        signature = self.identity.sign(
            consent_message(therapist_id, self.account_id, version, digest, signed_at)
        )
        return await self.api.accept_terms(
            {
                "therapist_id": therapist_id,
                "version": version,
                "terms_hash": terms["terms_hash"],
                "signed_at": signed_at,
                "signature": b64e(signature),
            }
        )

    # -- prekeys ------

    async def replenish(self, target: int = INITIAL_PREKEYS) -> int:
        """Upload fresh one-time prekeys up to ``target`` stored on the server (client/maintenance.py)."""
        return await self.prekeys.replenish(target)

    # -- sending ------

    async def send(
        self, account_id: str, payload: bytes | str | FilePointer | Profile, *, timeout: float | None = None
    ) -> str:
        """Encrypt ``payload`` to every device of ``account_id`` and our other devices; returns the message id
        once the server acknowledged it. Retries (same id) through disconnects and server restarts."""
        message_id = self.enqueue(account_id, payload)
        await asyncio.wait_for(asyncio.shield(self.outbox.result(message_id)), timeout)
        return message_id

    def enqueue(self, account_id: str, payload: bytes | str | FilePointer | Profile) -> str:
        """Persist a send in the outbox and return its id at once; the outbox worker delivers it."""
        message_id = new_id()  # inside the ciphertext too: receivers de-duplicate on it (PROTOCOL.md 20)
        plaintext = Payload(payload, now_ms(), account_id, message_id).encode()
        return self.outbox.add(account_id, b64e(plaintext), message_id)

    async def flush(self, timeout: float = 60.0) -> None:
        """Wait until the outbox is empty (every queued send acknowledged or refused)."""
        await self.outbox.flush(timeout)

    # -- receiving ------

    async def _on_envelopes(self, envelopes: list[JSON]) -> None:
        # One page at a time (Realtime awaits this before handing over the next): decrypted and handed to the
        # keystore's writer. While it is written the next page is decrypted; this returns once the previous
        # page is on disk, so at most one page waits for the disk while the next is decrypted.
        landing = await self._process(envelopes)
        previous = self._landing
        if landing is not None:
            self._landing = landing
        elif envelopes and self.state.cursor > self._ack_sent and _landed(previous):
            # A page that was all redelivery, with every earlier page on disk: an acknowledgement had been
            # lost; the saved cursor is acknowledged again (an unsettled write acknowledges when it lands).
            self._ack_soon(int(self.state.cursor))
        if previous is not None and previous is not self._landing:
            await previous

    async def _land(self, written: asyncio.Future[None], up_to: int) -> None:
        """A page's write is durable: its messages may be handed over and its envelopes acknowledged."""
        await asyncio.shield(written)
        self._inbox_changed.set()
        self._ack_soon(up_to)

    async def _on_event(self, name: str, data: JSON) -> None:
        if name == "prekeys_low":
            try:
                await self.replenish()
                await self.prekeys.run_once()
            except (ApiError, TransportError) as exc:
                log.warning("replenishing one-time prekeys failed: %s", exc)
        elif name == "devices_changed":
            with contextlib.suppress(ApiError, TransportError):
                await self.contacts()
                await self.refresh_devices()
        self.events.put_nowait({"event": name, **data})

    def _ack_soon(self, up_to: int) -> None:
        # Acks never hold up decryption. A pull that starts within ACK_FOLD_S carries the acknowledgement
        # (``sync``'s ``ack_up_to``: no event of its own, the common case while messages keep arriving);
        # otherwise one ``ack`` goes out then. Later positions coalesce into the next one.
        self._ack_wanted = max(self._ack_wanted, up_to)
        if self._ack_task is None or self._ack_task.done():
            self._ack_task = asyncio.create_task(self._ack_loop())

    def _fold_ack(self) -> int | None:
        """The position the next pull acknowledges (and from then on counts as sent), or None."""
        if self._ack_wanted <= self._ack_sent:
            return None
        self._ack_sent = self._ack_wanted
        return self._ack_sent

    async def _ack_loop(self) -> None:
        await asyncio.sleep(ACK_FOLD_S)  # a delay, not synchronisation: a pull meanwhile carries the ack
        while self._ack_wanted > self._ack_sent:
            up_to = self._ack_wanted
            await self._ack(up_to)
            self._ack_sent = max(self._ack_sent, up_to)

    async def _process(self, items: list[JSON]) -> asyncio.Task[None] | None:
        """Decrypt new items in stream order and hand them to the writer in one durable commit (inbox,
        sessions, seen ids, cursor); the returned task acknowledges the page once that commit is on disk:
        the server deletes only what is on our disk (None: nothing new). The messages are staged a slice at a
        time, before each await (client/inbox.py): a write started meanwhile holds whole slices."""
        async with self.lock:
            advanced = False
            try:
                for n, item in enumerate(sorted(items, key=lambda i: int(i["pos"]))):
                    pos = int(item["pos"])
                    if pos <= self.state.cursor:
                        continue
                    self._keep(await self._decrypt_item(item))
                    self.state.cursor = pos
                    advanced = True
                    if n % YIELD_EVERY == YIELD_EVERY - 1:
                        self.inbox.stage()
                        await asyncio.sleep(0)  # a page is decrypted in slices: the loop keeps ticking
            finally:
                self.inbox.stage()  # also when interrupted: the cursor and sessions staged so far need them
                self._queue_receipts()  # in the same durable write as the messages they acknowledge
            if not advanced:
                return None
            written = self.store.write()
            up_to = int(self.state.cursor)
        landing = asyncio.create_task(self._land(written, up_to), name="confidant-landing")
        landing.add_done_callback(_log_failed_write)
        return landing

    def _keep(self, decrypted: tuple[StoredMessage, Payload] | None) -> None:
        """De-duplication on the id inside the ciphertext, never the relay's (PROTOCOL.md section 20)."""
        if decrypted is None:
            return
        stored, payload = decrypted
        inner = f"{stored.from_account}:{stored.id}"
        if self.inbox.add(inner, stored):
            self._payloads[inner] = payload  # decoded once: messages() takes it from here
            if self._send_receipts and stored.from_account != self.account_id:  # never to our own devices
                self._receipts.setdefault(stored.from_account, []).append(stored.id)

    def _queue_receipts(self) -> None:
        """One delivery receipt per sender for the messages this page kept (the browser's rule, PROTOCOL.md
        section 20), staged in the outbox before the page's write so both land in one commit: one entry per
        sender per page, not one per message, so a backlog costs a handful of sends."""
        receipts, self._receipts = self._receipts, {}
        for to_account, ids in receipts.items():
            for start in range(0, len(ids), MAX_RECEIPT_IDS):
                receipt_id = new_id()
                body = Receipt(tuple(ids[start : start + MAX_RECEIPT_IDS]))
                plaintext = Payload(body, now_ms(), to_account, receipt_id).encode()
                self.outbox.add(to_account, b64e(plaintext), receipt_id, track=False)

    def _hold(self, item: JSON) -> None:
        """Keep an envelope from a contact whose key changed until the person decides (bounded)."""
        if len(self.state.held) < MAX_HELD:
            self.state.held[f"{item['pos']}:{item['from_device']}"] = dict(item)

    async def _decrypt_item(self, item: JSON) -> tuple[StoredMessage, Payload] | None:
        from_account, from_device = str(item["from_account"]), str(item["from_device"])
        if self.trust.is_blocked(from_account):
            self._hold(item)
            return None
        if from_device not in self.state.peer_identities:
            # a device we have not seen: learn its key from the server's listing before trusting the envelope
            self.inbox.stage()  # what this page decrypted so far is whole in any write started meanwhile
            self.lock.release()
            try:
                with contextlib.suppress(ApiError, TransportError):
                    await (self.refresh_devices() if from_account == self.account_id else self.contacts())
            finally:
                await self.lock.acquire()
            if self.trust.is_blocked(from_account):  # the refresh just found a changed key
                self._hold(item)
                return None
        try:
            plaintext = self.book.decrypt(from_account, from_device, b64d(item["ciphertext"]))
            payload = Payload.decode(plaintext)
        except UntrustedDevice as exc:
            log.warning("dropped an envelope from a device its account key does not certify")
            self.events.put_nowait(
                {
                    "event": "untrusted_device",
                    "account_id": exc.account_id,
                    "device_id": exc.device_id,
                    "id": item["id"],
                }
            )
            return None
        except (CryptoError, PayloadError, ValueError) as exc:
            log.warning(
                "dropped undecryptable envelope %s from device %s: %s",
                item["id"],
                from_device,
                exc.__class__.__name__,
            )
            self.events.put_nowait({"event": "undecryptable", "id": item["id"], "from_device": from_device})
            return None
        if isinstance(payload.body, Profile):
            self._keep_profile(from_account, payload.body, payload.sent_at)
            return None
        if isinstance(payload.body, Receipt):
            if from_account != self.account_id:  # our other devices' receipts concern the contact's messages
                ids = list(payload.body.ids)
                self.events.put_nowait({"event": "delivered", "account_id": from_account, "ids": ids})
            return None
        stored = StoredMessage(
            id=payload.id,
            from_account=from_account,
            from_device=from_device,
            pos=int(item["pos"]),
            sent_at=payload.sent_at,
            plaintext=b64e(plaintext),
        )
        return stored, payload

    def _keep_profile(self, from_account: str, profile: Profile, sent_at: int) -> None:
        """A contact's display name (PROTOCOL.md section 23): remembered, never a message. Our own devices'
        copies are ignored: this account's display name lives in its vault. An older one (by the sender's
        clock, authenticated in the ciphertext) never replaces a newer one, whatever order the relay chose."""
        if from_account == self.account_id:
            return
        known = self.state.contact_profiles.get(from_account)
        if known is not None and int(known["sent_at"]) > sent_at:
            return
        self.state.contact_profiles[from_account] = {"name": profile.display_name, "sent_at": sent_at}
        self.events.put_nowait(
            {"event": "profile", "account_id": from_account, "display_name": profile.display_name}
        )

    def contact_display_name(self, account_id: str) -> str | None:
        """The display name ``account_id`` last sent this device end to end, if any."""
        known = self.state.contact_profiles.get(account_id)
        return None if known is None else str(known["name"])

    def received_display_names(self) -> dict[str, str]:
        return {account_id: str(v["name"]) for account_id, v in self.state.contact_profiles.items()}

    async def _ack(self, up_to: int) -> None:
        try:
            if self.realtime.connected.is_set():
                await self.realtime.call("ack", {"up_to": up_to})
            else:
                await self.api.ack(up_to)
        except (ApiError, TransportError) as exc:
            # harmless: the next sync redelivers from the saved cursor and de-duplication drops them
            log.debug("ack up to %d failed: %s", up_to, exc)

    async def messages(self) -> AsyncIterator[Message]:
        """Decrypted messages in stream order, each once, handed over only once they are durably on disk
        (never one that a crash could take back and deliver again); removed from the keystore when handed
        over (written in the background: a crash right after may hand the last few over again)."""
        while True:
            taken = self.inbox.take(self.store.durable_seq)
            if taken is None:
                self._inbox_changed.clear()
                await self._inbox_changed.wait()
                continue
            key, stored = taken
            self.store.commit_soon()
            payload = self._payloads.pop(key, None) or Payload.decode(b64d(stored.plaintext))
            if isinstance(payload.body, Profile | Receipt):
                continue  # never stored in the inbox (_decrypt_item); kept out of the type all the same
            yield Message(
                stored.id,
                stored.from_account,
                stored.from_device,
                payload.body,
                payload.sent_at,
                payload.to or self.account_id,
            )

    async def receive(self, count: int, timeout: float = 30.0) -> list[Message]:
        """Take exactly ``count`` messages, waiting at most ``timeout`` seconds in total."""
        out: list[Message] = []

        async def take() -> None:
            async for message in self.messages():
                out.append(message)
                if len(out) == count:
                    return

        if count:
            try:
                await asyncio.wait_for(take(), timeout)
            except TimeoutError:
                raise TimeoutError(f"received {len(out)} of {count} messages in {timeout}s") from None
        return out


def _landed(landing: asyncio.Task[None] | None) -> bool:
    """No page write is pending or failed: the saved cursor is on disk."""
    return landing is None or (landing.done() and not landing.cancelled() and landing.exception() is None)


def _log_failed_write(task: asyncio.Task[None]) -> None:
    # read here so a failed last page is reported even if no later page awaits it; its records stay staged
    # for the next commit and nothing is acknowledged meanwhile
    if not task.cancelled() and task.exception() is not None:
        log.warning("a received page could not be written: %s", task.exception())
