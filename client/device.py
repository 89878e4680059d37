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
- A device whose identity key differs from the pinned one raises / reports :class:`KeyChanged`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client._keys import (
    auth_message,
    consent_message,
    device_payload,
    otk_wire,
    terms_hash,
)
from client._sendport import DeviceSendPort
from client._wire import b64d, b64e, now_ms
from client.api import ApiClient
from client.errors import ApiError, KeyChanged, TransportError
from client.file_pointer import FilePointer
from client.keystore import Keystore
from client.outbox import Outbox
from client.payload import Payload, PayloadError
from client.realtime import Realtime
from client.sessions import SessionBook
from client.state import DeviceState, StoredMessage
from crypto import (
    CryptoError,
    IdentityKeyPair,
    SignedPreKeyPair,
    generate_one_time_prekeys,
)
from crypto.limits import PREKEY_BATCH_SIZE

__all__ = ["Contact", "Device", "Message"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
INITIAL_PREKEYS = 100
YIELD_EVERY = 25  # envelopes decrypted between two yields to the event loop


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
    devices: tuple[str, ...]


class Device:
    def __init__(
        self,
        keystore: Keystore,
        *,
        source_host: str | None = None,
        api_timeout: float = 30.0,
        connect_timeout: float = 30.0,
    ) -> None:
        self.store = keystore
        self.state = DeviceState(keystore)
        self.identity = IdentityKeyPair.from_bytes(b64d(self.state.identity_seed))
        self.book = SessionBook(self.state, self.identity)
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
        )
        self._connect_timeout = connect_timeout
        self.events: asyncio.Queue[KeyChanged | JSON] = asyncio.Queue()
        self.lock = asyncio.Lock()
        self._inbox_changed = asyncio.Event()
        self.outbox = Outbox(self.state.outbox, keystore, DeviceSendPort(self))
        self._tasks: list[asyncio.Task[None]] = []
        self._login_lock = asyncio.Lock()
        self._replenish_lock = asyncio.Lock()
        self._ack_wanted = 0
        self._ack_sent = 0
        self._ack_task: asyncio.Task[None] | None = None
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
        cls, server_url: str, invitation_code: str, keystore_path: Path | str, passphrase: str, **opts: Any
    ) -> Device:
        """Create an account from an invitation, with this new device as its first device."""
        return await cls._create(server_url, keystore_path, passphrase, "invitation", invitation_code, **opts)

    @classmethod
    async def link(
        cls, server_url: str, link_code: str, keystore_path: Path | str, passphrase: str, **opts: Any
    ) -> Device:
        """Add a new device to an existing account with a link code from one of its devices."""
        return await cls._create(server_url, keystore_path, passphrase, "link", link_code, **opts)

    @classmethod
    async def _create(
        cls,
        server_url: str,
        keystore_path: Path | str,
        passphrase: str,
        kind: str,
        code: str,
        *,
        kdf: str = "interactive",
        connect: bool = True,
        source_host: str | None = None,
        **opts: Any,
    ) -> Device:
        keystore = await asyncio.to_thread(Keystore.create, Path(keystore_path), passphrase, kdf=kdf)
        created: JSON | None = None
        try:
            identity = IdentityKeyPair.generate()
            spk = SignedPreKeyPair.generate(identity, 1)
            otks = generate_one_time_prekeys(1, INITIAL_PREKEYS)
            payload = device_payload(identity, spk, otks)
            async with ApiClient(server_url, source_host=source_host) as api:
                if kind == "invitation":
                    created = await api.create_account(code, payload)
                else:
                    created = await api.link_device(code, payload)
            state = DeviceState(keystore)
            state.server_url = server_url.rstrip("/")
            state.account_id = created["account_id"]
            state.device_id = created["device_id"]
            state.role = created["role"]
            state.identity_seed = b64e(identity.to_bytes())
            state.signed_prekeys[str(spk.key_id)] = b64e(spk.to_bytes())
            state.current_signed_prekey = spk.key_id
            for k in otks:
                state.one_time_prekeys[str(k.key_id)] = b64e(k.to_bytes())
            state.next_prekey_id = INITIAL_PREKEYS + 1
            await keystore.commit()
        except BaseException:
            await keystore.close()
            if created is None:  # no account was made: leave no keystore behind, a retry starts clean
                keystore.remove_files()
            raise
        device = cls(keystore, source_host=source_host, **opts)
        await device.start(connect=connect)
        return device

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
        await self.realtime.stop()
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
        """Linked accounts with consent state and devices; pins device identity keys (``KeyChanged``)."""
        listing = (await self.api.contacts())["contacts"]
        out = []
        async with self.lock:
            changed: KeyChanged | None = None
            for c in listing:
                devices = [d["device_id"] for d in c.get("devices", [])]
                if self.state.device_sets.get(c["account_id"]) != devices:
                    self.state.device_sets[c["account_id"]] = devices
                for d in c.get("devices", []):
                    try:
                        self.book.check_pin(d["device_id"], c["account_id"], b64d(d["identity_key"]))
                    except KeyChanged as exc:
                        changed = exc
                consent = c.get("consent") or {}
                out.append(
                    Contact(
                        c["account_id"],
                        c["role"],
                        consent.get("accepted_version"),
                        consent.get("current_version"),
                        tuple(devices),
                    )
                )
            await self.save()
        if changed is not None:
            self.events.put_nowait(changed)
        return out

    async def refresh_devices(self) -> None:
        """Refresh our own device set (for copies to our other devices) and pin their keys."""
        me = await self.api.me()
        async with self.lock:
            mine = [d["device_id"] for d in me.get("devices", [])]
            if self.state.device_sets.get(self.account_id) != mine:
                self.state.device_sets[self.account_id] = mine
            for d in me.get("devices", []):
                if d["device_id"] != self.device_id:
                    with contextlib.suppress(KeyChanged):
                        self.book.check_pin(d["device_id"], self.account_id, b64d(d["identity_key"]))
            await self.save()

    async def invite(
        self, role: str, ttl_seconds: int | None = None, label_ciphertext: bytes | None = None
    ) -> JSON:
        """Admins invite therapists, therapists invite clients: ``{invitation_id, code, expires_at, url}``."""
        label = b64e(label_ciphertext) if label_ciphertext is not None else None
        return await self.api.create_invitation(role, ttl_seconds, label)

    async def invite_client(
        self, ttl_seconds: int | None = None, label_ciphertext: bytes | None = None
    ) -> JSON:
        return await self.invite("client", ttl_seconds, label_ciphertext)

    async def invite_therapist(
        self, ttl_seconds: int | None = None, label_ciphertext: bytes | None = None
    ) -> JSON:
        return await self.invite("therapist", ttl_seconds, label_ciphertext)

    async def create_link_code(self) -> str:
        return str((await self.api.create_link_code())["code"])

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
        """Upload fresh one-time prekeys up to ``target`` stored on the server; secrets are saved first.
        One top-up at a time: a burst of ``prekeys_low`` notices must not upload several batches."""
        async with self._replenish_lock:
            count = await self.api.prekey_count()
            needed = max(0, target - count)
            uploaded = 0
            while needed > 0:
                batch = min(needed, PREKEY_BATCH_SIZE)
                async with self.lock:
                    keys = generate_one_time_prekeys(self.state.next_prekey_id, batch)
                    self.state.next_prekey_id += batch
                    for k in keys:
                        self.state.one_time_prekeys[str(k.key_id)] = b64e(k.to_bytes())
                    await self.save()
                await self.api.add_one_time_prekeys([otk_wire(k) for k in keys])
                needed -= batch
                uploaded += batch
            return uploaded

    # -- sending ------

    async def send(
        self, account_id: str, payload: bytes | str | FilePointer, *, timeout: float | None = None
    ) -> str:
        """Encrypt ``payload`` to every device of ``account_id`` and our other devices; returns the message id
        once the server acknowledged it. Retries (same id) through disconnects and server restarts."""
        message_id = self.enqueue(account_id, payload)
        await asyncio.wait_for(asyncio.shield(self.outbox.result(message_id)), timeout)
        return message_id

    def enqueue(self, account_id: str, payload: bytes | str | FilePointer) -> str:
        """Persist a send in the outbox and return its id at once; the outbox worker delivers it."""
        return self.outbox.add(account_id, b64e(Payload(payload, now_ms(), account_id).encode()))

    async def flush(self, timeout: float = 60.0) -> None:
        """Wait until the outbox is empty (every queued send acknowledged or refused)."""
        await self.outbox.flush(timeout)

    # -- receiving ------

    async def _on_envelopes(self, envelopes: list[JSON]) -> None:
        # One page at a time (Realtime awaits this before fetching the next): decrypted, written, then acked.
        up_to = await self._process(envelopes)
        if up_to is not None:
            self._ack_soon(up_to)

    async def _on_event(self, name: str, data: JSON) -> None:
        if name == "prekeys_low":
            try:
                await self.replenish()
            except (ApiError, TransportError) as exc:
                log.warning("replenishing one-time prekeys failed: %s", exc)
        elif name == "devices_changed":
            with contextlib.suppress(ApiError, TransportError):
                await self.contacts()
                await self.refresh_devices()
        self.events.put_nowait({"event": name, **data})

    def _ack_soon(self, up_to: int) -> None:
        # acks never hold up decryption; at most one in flight, later positions coalesce into the next one
        self._ack_wanted = max(self._ack_wanted, up_to)
        if self._ack_task is None or self._ack_task.done():
            self._ack_task = asyncio.create_task(self._ack_loop())

    async def _ack_loop(self) -> None:
        while self._ack_wanted > self._ack_sent:
            up_to = self._ack_wanted
            await self._ack(up_to)
            self._ack_sent = up_to

    async def _process(self, items: list[JSON]) -> int | None:
        """Decrypt new items in stream order, write them in one durable commit (inbox, sessions, seen ids,
        cursor) and return the position to acknowledge: the server deletes only what is on our disk."""
        async with self.lock:
            advanced = False
            for n, item in enumerate(sorted(items, key=lambda i: int(i["pos"]))):
                pos = int(item["pos"])
                if pos <= self.state.cursor:
                    continue
                if item["id"] not in self.state.seen:
                    stored = await self._decrypt_item(item)
                    if stored is not None and stored.id not in self.state.inbox:
                        self.state.inbox[stored.id] = stored
                    self.state.remember_seen(item["id"])
                self.state.cursor = pos
                advanced = True
                if n % YIELD_EVERY == YIELD_EVERY - 1:
                    await asyncio.sleep(0)  # a page is decrypted in slices: the loop keeps ticking
            if not advanced:
                return None
            await self.save()
            self._inbox_changed.set()
            return int(self.state.cursor)

    async def _decrypt_item(self, item: JSON) -> StoredMessage | None:
        from_account, from_device = str(item["from_account"]), str(item["from_device"])
        if self.book.pinned(from_device) is None:
            # a device we have not seen: learn its key from the server's listing before trusting the envelope
            self.lock.release()
            try:
                with contextlib.suppress(ApiError, TransportError):
                    await (self.refresh_devices() if from_account == self.account_id else self.contacts())
            finally:
                await self.lock.acquire()
        try:
            plaintext = self.book.decrypt(from_account, from_device, b64d(item["ciphertext"]))
            payload = Payload.decode(plaintext)
        except KeyChanged as exc:
            self.events.put_nowait(exc)
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
        return StoredMessage(
            id=str(item["id"]),
            from_account=from_account,
            from_device=from_device,
            pos=int(item["pos"]),
            sent_at=payload.sent_at,
            plaintext=b64e(plaintext),
        )

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
        """Decrypted messages in stream order, each once; removed from the keystore when handed over (one
        row deleted, written in the background: a crash right after may hand the last few over again)."""
        while True:
            taken = self.state.inbox.pop_first()
            if taken is None:
                self._inbox_changed.clear()
                await self._inbox_changed.wait()
                continue
            stored = taken[1]
            self.store.commit_soon()
            payload = Payload.decode(b64d(stored.plaintext))
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
