"""Linking a device, approved on an existing device of the account (docs/PROTOCOL.md section 17).

The server only relays public keys and one sealed blob, and it stores the new device only with a
certificate signed by the account key, which never leaves the account's devices. So a bearer token
alone (stolen, or minted by a dishonest operator) can offer and even "approve" a link, but cannot
produce the certificate that registration requires.

Pending links are short-lived broker state (shared by every node), keyed by link id:
    waiting  -> N registered its link key, device id and identity key
    offered  -> a device E of some account answered with its link key (E's account is recorded)
    approved -> E left the sealed account bundle; a single-use link code (the stored hash of the link id)
                lets N register, consumed atomically with the device insert.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from server import limits
from server._verify import is_valid_public_key, link_id
from server.clock import Clock
from server.errors import Conflict, Forbidden, InvalidField, InvitationInvalid, NotFound
from server.services._secrets import sha256
from server.services.accounts import AccountService, new_device, verify_device_keys
from server.services.authz_cache import AuthzCache
from server.services.ratelimit import RateLimiter
from server.services.values import DeviceKeys, Principal
from storage.broker import Broker
from storage.errors import DeviceLimitReached, LinkCodeUnusable
from storage.protocols import Storage
from storage.records import Account, Device

__all__ = ["DeviceLinkService", "LinkState"]

_GONE = "This link is unknown, expired, cancelled or already used."


@dataclass(frozen=True, slots=True)
class LinkState:
    link_id: str
    link_key: bytes
    device_id: str
    identity_key: bytes
    expires_at: int
    offer_key: bytes | None = None
    account_id: str | None = None
    offer_device: str | None = None
    bundle: bytes | None = None

    @property
    def state(self) -> str:
        if self.bundle is not None:
            return "approved"
        return "offered" if self.offer_key is not None else "waiting"

    def to_json(self) -> bytes:
        def enc(value: bytes | None) -> str | None:
            return None if value is None else base64.b64encode(value).decode("ascii")

        doc = {
            "link_id": self.link_id,
            "link_key": enc(self.link_key),
            "device_id": self.device_id,
            "identity_key": enc(self.identity_key),
            "expires_at": self.expires_at,
            "offer_key": enc(self.offer_key),
            "account_id": self.account_id,
            "offer_device": self.offer_device,
            "bundle": enc(self.bundle),
        }
        return json.dumps(doc).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> LinkState:
        doc = json.loads(raw)

        def dec(value: str | None) -> bytes | None:
            return None if value is None else base64.b64decode(value)

        return cls(
            link_id=doc["link_id"],
            link_key=base64.b64decode(doc["link_key"]),
            device_id=doc["device_id"],
            identity_key=base64.b64decode(doc["identity_key"]),
            expires_at=doc["expires_at"],
            offer_key=dec(doc["offer_key"]),
            account_id=doc["account_id"],
            offer_device=doc["offer_device"],
            bundle=dec(doc["bundle"]),
        )


class DeviceLinkService:
    def __init__(
        self,
        storage: Storage,
        broker: Broker,
        limiter: RateLimiter,
        clock: Clock,
        accounts: AccountService,
        *,
        authz: AuthzCache,
    ) -> None:
        self._storage = storage
        self._broker = broker
        self._limiter = limiter
        self._clock = clock
        self._accounts = accounts
        self._authz = authz

    @staticmethod
    def _key(lid: str) -> str:
        return f"device_link:{lid}"

    async def _load(self, lid: str) -> LinkState:
        raw = await self._broker.get_state(self._key(lid))
        state = None if raw is None else LinkState.from_json(raw)
        if state is None or state.expires_at <= self._clock():
            raise NotFound(_GONE)  # a path naming nothing (live) is not_found, like every other resource
        return state

    async def _save(self, state: LinkState) -> None:
        ttl = max((state.expires_at - self._clock()) / 1000, 0.001)
        await self._broker.put_state(self._key(state.link_id), state.to_json(), ttl)

    async def create(self, link_key: bytes, device_id: str, identity_key: bytes, ip: str) -> LinkState:
        await self._limiter.check("redeem_per_ip", ip)
        if not is_valid_public_key(link_key, ed25519=False):
            raise InvalidField("The link key is not a valid X25519 public key.", {"field": "link_key"})
        if not is_valid_public_key(identity_key, ed25519=True):
            raise InvalidField(
                "The identity key is not a valid Ed25519 public key.", {"field": "identity_key"}
            )
        await self._accounts.require_unused_ids(None, device_id)
        lid = link_id(link_key)
        if await self._broker.get_state(self._key(lid)) is not None:
            raise Conflict("A link with this key is pending; draw a new link key.", {"field": "link_key"})
        expires_at = self._clock() + 1000 * limits.LINK_CODE_TTL_SECONDS
        state = LinkState(lid, link_key, device_id, identity_key, expires_at)
        await self._save(state)
        return state

    async def get(self, lid: str, ip: str) -> LinkState:
        await self._limiter.check("link_poll_per_ip", ip)
        return await self._load(lid)

    async def offer(self, caller: Principal, lid: str, offer_key: bytes) -> LinkState:
        await self._limiter.check("link_offer_per_device", caller.device_id)
        if not is_valid_public_key(offer_key, ed25519=False):
            raise InvalidField("The link key is not a valid X25519 public key.", {"field": "link_key"})
        state = await self._load(lid)
        if state.offer_key is not None:
            raise Conflict("This link already has an offer; start again on the new device.")
        # Pending approvals per account, like version 1's link codes: a token cannot pile them up.
        await self._limiter.cap_new(
            "device_links", caller.account_id, limits.MAX_OUTSTANDING_LINK_CODES, limits.LINK_CODE_TTL_SECONDS
        )
        offered = LinkState(
            state.link_id,
            state.link_key,
            state.device_id,
            state.identity_key,
            state.expires_at,
            offer_key,
            caller.account_id,
            caller.device_id,
        )
        await self._save(offered)
        return offered

    async def approve(self, caller: Principal, lid: str, bundle: bytes) -> None:
        state = await self._load(lid)
        if state.offer_device != caller.device_id or state.bundle is not None:
            raise Forbidden("Only the device that answered this link can approve it, once.")
        approved = LinkState(
            state.link_id,
            state.link_key,
            state.device_id,
            state.identity_key,
            state.expires_at,
            state.offer_key,
            state.account_id,
            state.offer_device,
            bundle,
        )
        # The stored hash of the link id is the single-use permit that registration consumes atomically.
        await self._storage.devices.add_link_code(sha256(lid), caller.account_id, state.expires_at)
        await self._save(approved)

    async def cancel(self, lid: str, ip: str) -> None:
        await self._limiter.check("link_poll_per_ip", ip)
        await self._load(lid)
        await self._broker.delete_state(self._key(lid))

    async def register(self, lid: str, keys: DeviceKeys, ip: str) -> tuple[Account, Device]:
        """N registers itself with the certificate E issued; verified under the stored account key.
        No per-IP count: only an approved, unguessable link gets this far."""
        try:
            state = await self._load(lid)
        except NotFound:
            raise InvitationInvalid(_GONE) from None  # the permit in the body is spent or never existed
        if state.bundle is None or state.account_id is None:
            raise Forbidden("This link has not been approved on a device of the account yet.")
        if keys.device_id != state.device_id or keys.identity_key != state.identity_key:
            raise Forbidden("This is not the device that asked for this link.")
        account = await self._storage.accounts.get_account(state.account_id)
        if account is None or account.disabled:
            raise Forbidden("This account is disabled.")
        verify_device_keys(keys, account.account_id, account.account_key, self._clock())
        try:
            device = await self._authz.after_commit(
                self._storage.devices.add_device_with_link_code(
                    code_hash=sha256(lid),
                    device=new_device(keys),
                    max_devices=limits.MAX_DEVICES_PER_ACCOUNT,
                    now=self._clock(),
                ),
                lambda added: (added.account_id,),
            )
        except LinkCodeUnusable:
            raise InvitationInvalid(_GONE) from None
        except DeviceLimitReached:
            raise Conflict(
                f"This account already has {limits.MAX_DEVICES_PER_ACCOUNT} devices; revoke one first.",
                {"limit": limits.MAX_DEVICES_PER_ACCOUNT},
            ) from None
        await self._broker.delete_state(self._key(lid))
        await self._accounts.device_added(account, device)
        return account, device
