"""Erasure of an account (the right to be forgotten), by the person or by an administrator.

The job is recorded first; then the account is disabled (no new login, no new token), its sockets are
closed, and every store of ``storage.erasure.ERASE_ORDER`` erases what it holds of the account, in order;
finally the account's audit pseudonym key is destroyed (crypto-shredding: server/audit.py) and the job
row, the last place its id remains, is deleted. A crash anywhere in between leaves the job, and
``resume()`` (run at every start) finishes it: every step is idempotent.

The person confirms with a signature of their device's identity key over a fresh single-use nonce, so a
stolen bearer token alone cannot erase an account:
``b"confidant-erase-account-v1" || nonce || account_id (16 bytes) || device_id (16 bytes)``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Awaitable, Callable

from server import limits
from server._verify import verify
from server.audit import AuditEvent, AuditService
from server.clock import Clock
from server.errors import ChallengeInvalid, Forbidden, NotFound, SignatureInvalid
from server.services.admin import require_admin
from server.services.authz_cache import AuthzCache
from server.services.notify import Notifier
from server.services.values import Principal
from server.wire.responses import DevicesChangedEvent
from storage.erasure import ERASE_ORDER, Erasable, ErasureJob
from storage.protocols import Storage

__all__ = ["ERASE_CONTEXT", "PAUSE_ENV", "ErasureService", "pause_from_env"]

log = logging.getLogger(__name__)

ERASE_CONTEXT = b"confidant-erase-account-v1"
# Test-only: the serve process stops for ever right after erasing this store (and touches
# "<data_dir>/erasure-paused"), so that a test can kill -9 it midway. Never set in production.
PAUSE_ENV = "CONFIDANT_TEST_ERASURE_PAUSE_AFTER"

Pause = Callable[[str], Awaitable[None]]


async def _no_pause(store: str) -> None:
    return None


def pause_from_env(marker_dir: str) -> Pause:
    halt_after = os.environ.get(PAUSE_ENV)
    if not halt_after:
        return _no_pause

    async def pause(store: str) -> None:
        if store == halt_after:
            with open(os.path.join(marker_dir, "erasure-paused"), "w") as marker:
                marker.write(store)
            await asyncio.Event().wait()

    return pause


class ErasureService:
    def __init__(self, storage: Storage, notifier: Notifier, audit: AuditService, clock: Clock, *,
                 authz: AuthzCache, pause: Pause = _no_pause) -> None:
        self._storage = storage
        self._notifier = notifier
        self._audit = audit
        self._clock = clock
        self._authz = authz
        self._pause = pause
        self._running: dict[str, asyncio.Task[None]] = {}

    async def challenge(self, caller: Principal) -> tuple[bytes, int]:
        """A single-use nonce that the calling device signs to confirm erasing its account."""
        nonce = secrets.token_bytes(limits.NONCE_BYTES)
        expires_at = self._clock() + 1000 * limits.CHALLENGE_TTL_SECONDS
        await self._storage.challenges.add_challenge(nonce, caller.device_id, expires_at)
        return nonce, expires_at

    async def erase_self(self, caller: Principal, nonce: bytes, signature: bytes) -> None:
        if not await self._storage.challenges.take_challenge(nonce, caller.device_id, self._clock()):
            raise ChallengeInvalid("This confirmation challenge is unknown, already used or expired.")
        device = await self._storage.devices.get_device(caller.device_id)
        if device is None or not device.active:
            raise ChallengeInvalid("This confirmation challenge is unknown, already used or expired.")
        message = ERASE_CONTEXT + nonce + bytes.fromhex(caller.account_id) + bytes.fromhex(caller.device_id)
        if not verify(device.identity_key, message, signature):
            raise SignatureInvalid("The confirmation signature does not verify; request a new challenge.")
        await self._start(caller.account_id, by_admin=False, actor_id=None)

    async def erase_by_admin(self, caller: Principal, account_id: str) -> None:
        require_admin(caller)
        if account_id == caller.account_id:
            raise Forbidden("Erase your own account from your account screen, not here.")
        if await self._storage.accounts.get_account(account_id) is None:
            raise NotFound("No account has this id.")
        await self._start(account_id, by_admin=True, actor_id=caller.account_id)

    async def _start(self, account_id: str, *, by_admin: bool, actor_id: str | None) -> None:
        job = ErasureJob(account_id, self._clock(), by_admin)
        if await self._storage.erasure.add_erasure_job(job):
            event = AuditEvent.ADMIN_ACCOUNT_ERASED if by_admin else AuditEvent.ACCOUNT_ERASED
            # Recorded under the account's own key, which the erasure then destroys.
            await self._audit.record(event, account_id=account_id, actor_id=actor_id)
        await self.run(job)

    async def resume(self) -> int:
        """Finish every erasure a crash interrupted; the number finished."""
        jobs = await self._storage.erasure.get_erasure_jobs()
        for job in jobs:
            await self.run(job)
        return len(jobs)

    async def run(self, job: ErasureJob) -> None:
        """Run (or join the running) erasure of one account; shielded so that a client hanging up does
        not stop it halfway."""
        task = self._running.get(job.account_id)
        if task is None:
            task = asyncio.ensure_future(self._erase(job.account_id))
            self._running[job.account_id] = task
            task.add_done_callback(lambda _: self._running.pop(job.account_id, None))
        await asyncio.shield(task)

    async def _erase(self, account_id: str) -> None:
        storage = self._storage
        await self._authz.after_commit(
            storage.accounts.set_account_disabled(account_id, True), lambda _: (account_id,)
        )
        devices = await storage.devices.get_devices([account_id])
        contacts = {link.client_id if link.therapist_id == account_id else link.therapist_id
                    for link in await storage.links.get_links_of(account_id)}
        for device in devices:  # its tokens are about to go; live connections end now
            await self._notifier.disconnect_device(device.device_id)
        for name in ERASE_ORDER:
            store: Erasable = getattr(storage, name)
            await self._authz.after_commit(store.erase_account(account_id), lambda _: (account_id, *contacts))
            await self._pause(name)
        await self._audit.shred(account_id)
        await storage.erasure.delete_erasure_job(account_id)
        # Contacts refetch their contacts and devices: the erased account is gone from both.
        for other in contacts:
            await self._notifier.to_account(other, "devices_changed", DevicesChangedEvent(account_id))
        log.info("account erased", extra={"stores": len(ERASE_ORDER)})
