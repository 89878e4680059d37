"""Linking a new device, approved on an existing one (docs/PROTOCOL.md section 17; docs/SDK.md "Linking").

On the new device:

    request = await LinkRequest.start(server_url)
    show(request.code)                                  # 53 characters, also the QR content
    comparison = await request.wait_for_offer()         # "123 456": the person compares both screens
    device = await request.complete(keystore_path, passphrase, confirmed=True)

On an existing, unlocked device of the account:

    approval = await device.approve_link(code)          # returns once the new device was reached
    show(approval.comparison)                           # the same string, if nobody is in the middle
    await approval.approve()                            # after the person confirmed; or approval.cancel()

The server only relays the two link keys and one sealed bundle; the account key reaches the new device
encrypted to its link key, and the server accepts the new device only with the certificate inside.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from client._wire import b64d, b64e, new_id, now_ms
from client.api import ApiClient
from client.errors import ApiError, LinkRefused
from crypto import linking
from crypto.certificate import AccountKeyPair, DeviceCertificate
from crypto.errors import CryptoError
from crypto.keys import IdentityKeyPair, X25519KeyPair, X25519PublicKey

if TYPE_CHECKING:
    from client.device import Device

__all__ = ["LinkApproval", "LinkRequest", "LinkedAccount"]

POLL_SECONDS = 0.2  # while a person compares two screens; a link lives 10 minutes


@dataclass(frozen=True)
class LinkedAccount:
    """What the new device received: everything it needs to create its keystore."""

    account_id: str
    role: str
    device_id: str
    identity: IdentityKeyPair
    account_key: AccountKeyPair
    certificate: DeviceCertificate
    secrets: dict[int, bytes]


class LinkRequest:
    """The new device's side."""

    def __init__(
        self, api: ApiClient, link_key: X25519KeyPair, identity: IdentityKeyPair, device_id: str
    ) -> None:
        self.api = api
        self.link_key = link_key
        self.identity = identity
        self.device_id = device_id
        self.link_id = linking.link_id(link_key.public).hex()
        self.code = linking.encode_link_code(link_key.public)
        self.display_code = linking.format_link_code(self.code)
        self.comparison: str | None = None
        self.account_id: str | None = None
        self._keys: linking.LinkKeys | None = None

    @classmethod
    async def start(cls, server_url: str, *, source_host: str | None = None) -> LinkRequest:
        api = ApiClient(server_url, source_host=source_host)
        link_key, identity, device_id = X25519KeyPair.generate(), IdentityKeyPair.generate(), new_id()
        try:
            await api.create_link(
                b64e(link_key.public.to_bytes()), device_id, b64e(identity.public.to_bytes())
            )
        except BaseException:
            await api.close()
            raise
        return cls(api, link_key, identity, device_id)

    async def _poll(self, done: Any, timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                state = await self.api.get_link(self.link_id)
                if done(state):
                    return state
                await asyncio.sleep(POLL_SECONDS)

    async def wait_for_offer(self, timeout: float = 600.0) -> str:
        """Wait until an existing device answered; returns the comparison string to show."""
        state = await self._poll(lambda s: s["offer_key"] is not None, timeout)
        self.account_id = str(state["account_id"])
        offer = X25519PublicKey(b64d(state["offer_key"]))
        t = linking.transcript(
            self.link_key.public,
            offer,
            bytes.fromhex(self.account_id),
            bytes.fromhex(self.device_id),
            self.identity.public,
        )
        self._keys = linking.derive_link_keys(self.link_key, offer, t)
        self.comparison = self._keys.display()
        return self.comparison

    async def receive(self, *, confirmed: bool, timeout: float = 600.0) -> LinkedAccount:
        """After the person confirmed the strings match on this device: take the account, register."""
        if not confirmed or self._keys is None or self.account_id is None:
            await self.cancel()
            raise LinkRefused("linking was not confirmed on the new device")
        state = await self._poll(lambda s: s["bundle"] is not None, timeout)
        try:
            bundle = linking.open_bundle(self._keys, b64d(state["bundle"]))
            if bundle.account_id.hex() != self.account_id:
                raise LinkRefused("the bundle names another account")
            bundle.certificate.verify(
                bundle.account_key.public,
                bundle.account_id,
                bytes.fromhex(self.device_id),
                self.identity.public,
            )
        except (CryptoError, ValueError) as exc:
            await self.cancel()
            raise LinkRefused(f"the account bundle does not open or verify ({type(exc).__name__})") from None
        return LinkedAccount(
            self.account_id,
            "",
            self.device_id,
            self.identity,
            bundle.account_key,
            bundle.certificate,
            bundle.secrets,
        )

    async def complete(self, keystore_path: Any, passphrase: str, *, confirmed: bool, **opts: Any) -> Device:
        """``receive`` then create the keystore and register this device (``Device.from_link``)."""
        from client.device import Device

        linked = await self.receive(confirmed=confirmed, timeout=float(opts.pop("timeout", 600.0)))
        try:
            return await Device.from_link(
                self.api.base_url, self.link_id, linked, keystore_path, passphrase, **opts
            )
        finally:
            await self.api.close()

    async def cancel(self) -> None:
        try:
            await self.api.cancel_link(self.link_id)
        except ApiError:
            pass
        finally:
            await self.api.close()


class LinkApproval:
    """The existing device's side (the account key never leaves it except sealed to the new device)."""

    def __init__(
        self, device: Device, link_id: str, new_device_id: str, identity: bytes, keys: linking.LinkKeys
    ) -> None:
        self.device = device
        self.link_id = link_id
        self.new_device_id = new_device_id
        self.new_identity_key = identity
        self._keys = keys
        self.comparison = keys.display()

    @classmethod
    async def start(cls, device: Device, code: str) -> LinkApproval:
        try:
            new_key = linking.parse_link_code(code)
        except CryptoError as exc:
            raise LinkRefused(f"this is not a link code ({type(exc).__name__})") from None
        link_id = linking.link_id(new_key).hex()
        offer = X25519KeyPair.generate()
        answer = await device.api.offer_link(link_id, b64e(offer.public.to_bytes()))
        identity = b64d(answer["identity_key"])
        from crypto.keys import IdentityPublicKey

        t = linking.transcript(
            new_key,
            offer.public,
            bytes.fromhex(device.account_id),
            bytes.fromhex(answer["device_id"]),
            IdentityPublicKey(identity),
        )
        return cls(
            device, link_id, str(answer["device_id"]), identity, linking.derive_link_keys(offer, new_key, t)
        )

    async def approve(self) -> None:
        """Only after the person confirmed that both devices show ``comparison``."""
        from crypto.keys import IdentityPublicKey

        d = self.device
        account_key = d.account_key
        certificate = DeviceCertificate.issue(
            account_key,
            bytes.fromhex(d.account_id),
            bytes.fromhex(self.new_device_id),
            IdentityPublicKey(self.new_identity_key),
            now_ms(),
        )
        secrets = {int(k): b64d(v) for k, v in d.state.account_secrets.items()}
        bundle = linking.AccountBundle(bytes.fromhex(d.account_id), account_key, certificate, secrets)
        await d.api.approve_link(self.link_id, b64e(linking.seal_bundle(self._keys, bundle)))

    async def cancel(self) -> None:
        with contextlib.suppress(ApiError):
            await self.device.api.cancel_link(self.link_id)
