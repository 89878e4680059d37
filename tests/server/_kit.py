"""Test kit: real devices (PyNaCl keys via crypto/), a thin HTTP/socket.io caller, account builders.

No mocks of our own code: every call goes through the running app on a loopback port.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import secrets
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

from crypto.certificate import AccountKeyPair, DeviceCertificate
from crypto.keys import IdentityKeyPair, SignedPreKeyPair, generate_one_time_prekeys
from crypto.signed import auth_message, consent_message

API = "/api/v1"


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for a condition that another task makes true (a server-side disconnect); never a fixed sleep."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def eventually_async(probe: Callable[[], Awaitable[Any]], expected: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while await probe() != expected:
            await asyncio.sleep(0.005)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hex_id() -> str:
    return secrets.token_hex(16)


class Keys:
    """A device's key material, generated the way a real client does (protocol version 2: the device and
    account ids are drawn here, and the account key certifies the device)."""

    def __init__(
        self,
        prekeys: int = 20,
        first_prekey_id: int = 1,
        *,
        account: AccountKeyPair | None = None,
        account_id: str | None = None,
    ) -> None:
        self.identity = IdentityKeyPair.generate()
        self.spk = SignedPreKeyPair.generate(self.identity, 1)
        self.otks = generate_one_time_prekeys(first_prekey_id, prekeys)
        self.account = account or AccountKeyPair.generate()
        self.account_id = account_id or hex_id()
        self.device_id = hex_id()
        self.created_at = 1_700_000_000_000

    def linked(self, prekeys: int = 20) -> Keys:
        """Keys of a new device of the same account (its certificate signed by this account key)."""
        return Keys(prekeys, account=self.account, account_id=self.account_id)

    def certificate(self) -> DeviceCertificate:
        return DeviceCertificate.issue(
            self.account,
            bytes.fromhex(self.account_id),
            bytes.fromhex(self.device_id),
            self.identity.public,
            self.created_at,
        )

    def account_payload(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "account_key": b64(self.account.public.to_bytes())}

    def register_body(self, code: str) -> dict[str, Any]:
        return {"invitation_code": code, "account": self.account_payload(), "device": self.payload()}

    @property
    def identity_public(self) -> bytes:
        return self.identity.public.to_bytes()

    def sign(self, message: bytes) -> bytes:
        return self.identity.sign(message)

    def payload(self) -> dict[str, Any]:
        spk = self.spk.public_part()
        cert = self.certificate()
        return {
            "device_id": self.device_id,
            "identity_key": b64(self.identity_public),
            "certificate": {"created_at": cert.created_at, "signature": b64(cert.signature)},
            "signed_prekey": {
                "id": spk.key_id,
                "public": b64(spk.public.to_bytes()),
                "signature": b64(spk.signature),
            },
            "one_time_prekeys": [
                {"id": k.key_id, "public": b64(k.public_part().public.to_bytes())} for k in self.otks
            ],
        }


def envelope_bytes(sender_device: str, recipient_device: str, kind: str = "message", size: int = 1) -> bytes:
    """A structurally valid version-1 envelope (docs/PROTOCOL.md section 5) with random content."""
    type_byte = 1 if kind == "prekey" else 2
    head = bytes([1, type_byte]) + bytes.fromhex(sender_device) + bytes.fromhex(recipient_device)
    if kind == "prekey":
        head += os.urandom(32) + os.urandom(32) + struct.pack(">I", 1) + b"\x01" + struct.pack(">I", 1)
    header = os.urandom(32) + struct.pack(">II", 0, 0)
    return head + header + os.urandom(16 + 160 * size)


@dataclass
class Response:
    status: int
    body: Any
    headers: Any

    @property
    def code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            code: str = self.body["error"]["code"]
            return code
        return None


class Http:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        url = self.base_url + path
        kwargs: dict[str, Any] = {"headers": hdrs}
        if raw is not None:
            kwargs["data"] = io.BytesIO(raw)
            hdrs.setdefault("Content-Type", "application/json")
        elif json is not None:
            kwargs["json"] = json
        async with self.session.request(method, url, **kwargs) as resp:
            text = await resp.read()
            try:
                body: Any = await resp.json(content_type=None) if text else None
            except ValueError:
                body = text
            return Response(resp.status, body, resp.headers)


@dataclass
class Device:
    """A registered device with a token, plus its account facts."""

    http: Http
    keys: Keys
    account_id: str
    device_id: str
    role: str
    token: str = ""
    linked_account_id: str | None = None
    sockets: list[socketio.AsyncClient] = field(default_factory=list)

    async def call(self, method: str, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.http.call(method, path, json, token=self.token, **kw)

    async def login(self) -> str:
        r = await self.http.call("POST", f"{API}/auth/challenge", {"device_id": self.device_id})
        assert r.status == 200, r.body
        nonce = base64.b64decode(r.body["nonce"])
        sig = self.keys.sign(auth_message(nonce, bytes.fromhex(self.device_id)))
        r = await self.http.call(
            "POST",
            f"{API}/auth/token",
            {"device_id": self.device_id, "nonce": r.body["nonce"], "signature": b64(sig)},
        )
        assert r.status == 200, r.body
        self.token = r.body["token"]
        return self.token

    def envelope(self, to_device: str, kind: str = "message", size: int = 1) -> dict[str, Any]:
        return {
            "v": 1,
            "to_device": to_device,
            "type": kind,
            "ciphertext": b64(envelope_bytes(self.device_id, to_device, kind, size)),
        }

    def send_body(self, to_account: str, devices: list[str], message_id: str | None = None) -> dict[str, Any]:
        return {
            "id": message_id or hex_id(),
            "to_account": to_account,
            "envelopes": [self.envelope(d) for d in devices],
        }

    def consent_body(
        self, therapist_id: str, version: int, terms_hash: bytes, signed_at: int
    ) -> dict[str, Any]:
        message = consent_message(
            bytes.fromhex(therapist_id), bytes.fromhex(self.account_id), version, terms_hash, signed_at
        )
        return {
            "therapist_id": therapist_id,
            "version": version,
            "terms_hash": b64(terms_hash),
            "signed_at": signed_at,
            "signature": b64(self.keys.sign(message)),
        }

    async def connect(self, token: str | None = None) -> Socket:
        sock = Socket(socketio.AsyncClient(reconnection=False))
        await sock.client.connect(
            self.http.base_url, auth={"token": token or self.token}, transports=["websocket"], wait_timeout=5
        )
        self.sockets.append(sock.client)
        return sock


class Socket:
    """A socket.io client that records every server event in per-event queues."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        import asyncio

        self.client = client
        self.events: dict[str, asyncio.Queue[Any]] = {}
        for name in ("inbox", "prekeys_low", "devices_changed", "consent_changed"):
            queue: asyncio.Queue[Any] = asyncio.Queue()
            self.events[name] = queue
            client.on(name, handler=queue.put)

    async def call(self, event: str, data: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.call(event, data, timeout=10)
        return result

    async def next(self, event: str, timeout: float = 5.0) -> Any:
        import asyncio

        return await asyncio.wait_for(self.events[event].get(), timeout)

    def pending(self, event: str) -> int:
        return self.events[event].qsize()


async def link_device(http: Http, owner: Device, keys: Keys) -> str:
    """Run the linking flow up to approval: N asks, E (``owner``) offers and approves with a sealed bundle.

    Returns the link id; the caller registers N with ``POST /devices``. Real crypto on both sides.
    """
    from crypto import linking
    from crypto.keys import X25519KeyPair

    new_link, offer = X25519KeyPair.generate(), X25519KeyPair.generate()
    r = await http.call(
        "POST",
        f"{API}/device-links",
        {
            "link_key": b64(new_link.public.to_bytes()),
            "device_id": keys.device_id,
            "identity_key": b64(keys.identity_public),
        },
    )
    assert r.status == 201, r.body
    link_id: str = r.body["link_id"]
    r = await owner.call(
        "POST", f"{API}/device-links/{link_id}/offer", {"link_key": b64(offer.public.to_bytes())}
    )
    assert r.status == 200, r.body
    t = linking.transcript(
        new_link.public,
        offer.public,
        bytes.fromhex(owner.account_id),
        bytes.fromhex(keys.device_id),
        keys.identity.public,
    )
    sealed = linking.seal_bundle(
        linking.derive_link_keys(offer, new_link.public, t),
        linking.AccountBundle(bytes.fromhex(owner.account_id), keys.account, keys.certificate()),
    )
    r = await owner.call("POST", f"{API}/device-links/{link_id}/approve", {"bundle": b64(sealed)})
    assert r.status == 204, r.body
    return link_id
