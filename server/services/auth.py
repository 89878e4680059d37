"""Challenge-response login and bearer tokens.

The device signs ``b"confidant-auth-v1" || nonce || device_id (16 bytes)`` with its identity key.
Nonces are single use (a failed verification consumes them); tokens are random, stored as SHA-256,
short-lived and revocable.
"""

from __future__ import annotations

import base64
import secrets

from server import limits
from server._verify import auth_message, verify
from server.audit import AuditEvent, AuditRecorder, NullAuditRecorder
from server.clock import Clock
from server.errors import ChallengeInvalid, Forbidden, NotFound, SignatureInvalid, Unauthenticated
from server.services._secrets import sha256
from server.services.notify import Notifier
from server.services.ratelimit import RateLimiter
from server.services.values import Principal
from storage.protocols import Storage
from storage.records import TokenRecord

__all__ = ["AuthService"]

_MAX_TOKEN_CHARS = 64  # 32 bytes in base64url are 43 characters; anything longer is not ours


class AuthService:
    def __init__(
        self,
        storage: Storage,
        limiter: RateLimiter,
        clock: Clock,
        token_ttl_seconds: int,
        *,
        notifier: Notifier | None = None,
        audit: AuditRecorder | None = None,
    ) -> None:
        self._audit = audit or NullAuditRecorder()
        self._notifier = notifier
        self._storage = storage
        self._limiter = limiter
        self._clock = clock
        self._token_ttl_ms = 1000 * token_ttl_seconds

    async def _active_device_account(self, device_id: str) -> str:
        device = await self._storage.devices.get_device(device_id)
        if device is None or not device.active:
            raise NotFound("No active device has this id.")
        account = await self._storage.accounts.get_account(device.account_id)
        if account is None or account.disabled:
            raise Forbidden("This account is disabled.")
        return device.account_id

    async def challenge(self, device_id: str, ip: str) -> tuple[bytes, int]:
        # Per IP only: a per-device count would let anyone who knows a device id lock it out.
        await self._limiter.check("challenge_per_ip", ip)
        await self._active_device_account(device_id)
        nonce = secrets.token_bytes(limits.NONCE_BYTES)
        expires_at = self._clock() + 1000 * limits.CHALLENGE_TTL_SECONDS
        await self._storage.challenges.add_challenge(nonce, device_id, expires_at)
        return nonce, expires_at

    async def issue_token(self, device_id: str, nonce: bytes, signature: bytes, ip: str) -> tuple[str, int]:
        await self._limiter.check("token_per_ip", ip)
        if not await self._storage.challenges.take_challenge(nonce, device_id, self._clock()):
            raise ChallengeInvalid("This login challenge is unknown, already used or expired.")
        device = await self._storage.devices.get_device(device_id)
        if device is None or not device.active:
            raise ChallengeInvalid("This login challenge is unknown, already used or expired.")
        message = auth_message(nonce, bytes.fromhex(device_id))
        if not verify(device.identity_key, message, signature):
            await self._audit.record(
                AuditEvent.LOGIN_FAILED,
                account_id=device.account_id,
                device_id=device_id,
                reason="signature_invalid",
            )
            raise SignatureInvalid("The login signature does not verify; request a new challenge.")
        account_id = await self._active_device_account(device_id)
        token = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
        expires_at = self._clock() + self._token_ttl_ms
        await self._storage.tokens.add_token(sha256(token), TokenRecord(device_id, account_id, expires_at))
        await self._audit.record(AuditEvent.LOGIN, account_id=account_id, device_id=device_id)
        return token, expires_at

    async def authenticate(self, token: str | None) -> Principal:
        if not token or len(token) > _MAX_TOKEN_CHARS:
            raise Unauthenticated("A valid bearer token is required.")
        token_hash = sha256(token)
        record = await self._storage.tokens.get_token(token_hash)
        if record is None or record.expires_at <= self._clock():
            raise Unauthenticated("This token is unknown, expired or revoked; log in again.")
        account = await self._storage.accounts.get_account(record.account_id)
        if account is None or account.disabled:
            raise Forbidden("This account is disabled.")
        return Principal(record.account_id, record.device_id, account.role, token_hash, record.expires_at)

    def still_valid(self, principal: Principal) -> None:
        """For long-lived connections: the token's lifetime is checked on every event."""
        if principal.expires_at <= self._clock():
            raise Unauthenticated("This token has expired; log in again.")

    async def revoke(self, principal: Principal) -> None:
        await self._storage.tokens.delete_token(principal.token_hash)
        if self._notifier is not None:
            await self._notifier.disconnect_token(principal.token_hash)
