"""Invitations: single-use, expiring, stored as a SHA-256 hash only.

Admins invite therapists, therapists invite clients; the operator CLI invites admins (bootstrap) and
therapists. Redeeming one is ``AccountService.create_account``.
"""

from __future__ import annotations

from dataclasses import dataclass

from server import limits
from server.audit import AuditEvent, AuditRecorder, NullAuditRecorder
from server.clock import Clock
from server.errors import Forbidden, LimitReached, NotFound
from server.services._secrets import new_code, new_id, sha256
from server.services.values import Principal
from storage.protocols import Storage
from storage.records import Invitation, Role

__all__ = ["CreatedInvitation", "InvitationService"]

# Who may invite whom. Admins never invite clients: an admin must not become anyone's contact.
_MAY_INVITE: dict[Role, Role] = {Role.ADMIN: Role.THERAPIST, Role.THERAPIST: Role.CLIENT}


@dataclass(frozen=True, slots=True)
class CreatedInvitation:
    invitation: Invitation
    code: str  # shown once, never stored


class InvitationService:
    def __init__(
        self, storage: Storage, clock: Clock, default_ttl_seconds: int, *, audit: AuditRecorder | None = None
    ) -> None:
        self._audit = audit or NullAuditRecorder()
        self._storage = storage
        self._clock = clock
        self._default_ttl_seconds = default_ttl_seconds

    async def create(
        self, caller: Principal, role: Role, ttl_seconds: int | None, label_ciphertext: bytes | None
    ) -> CreatedInvitation:
        if _MAY_INVITE.get(caller.role) is not role:
            raise Forbidden(f"A {caller.role.value} cannot invite a {role.value}.")
        await self._check_outstanding(caller.account_id)
        created = await self._add(caller.account_id, role, ttl_seconds, label_ciphertext)
        if caller.role is Role.ADMIN:
            await self._audit.record(
                AuditEvent.ADMIN_INVITATION_CREATED, account_id=caller.account_id, role=role.value
            )
        return created

    async def _check_outstanding(self, inviter_id: str) -> None:
        # Read then write: two concurrent creates may both pass at the limit; the bound is what matters.
        now = self._clock()
        mine = await self._storage.invitations.get_invitations_by_inviter(inviter_id)
        open_ = sum(1 for i in mine if i.used_at is None and i.revoked_at is None and i.expires_at > now)
        if open_ >= limits.MAX_OUTSTANDING_INVITATIONS:
            raise LimitReached(
                f"You have {open_} unused invitations; revoke some or wait until they expire.",
                {"limit": limits.MAX_OUTSTANDING_INVITATIONS, "what": "invitations"},
            )

    async def create_by_operator(self, role: Role, ttl_seconds: int | None = None) -> CreatedInvitation:
        """From the CLI (no account): admin bootstrap or a therapist invitation."""
        if role is Role.ADMIN:
            # Only the newest bootstrap code is valid: an operator who lost one simply asks again.
            await self._storage.invitations.revoke_operator_invitations(Role.ADMIN, self._clock())
        return await self._add(None, role, ttl_seconds, None)

    async def _add(
        self, inviter_id: str | None, role: Role, ttl_seconds: int | None, label: bytes | None
    ) -> CreatedInvitation:
        now = self._clock()
        code = new_code()
        invitation = Invitation(
            invitation_id=new_id(),
            code_hash=sha256(code),
            inviter_id=inviter_id,
            role=role,
            created_at=now,
            expires_at=now + 1000 * (ttl_seconds or self._default_ttl_seconds),
            label_ciphertext=label,
        )
        await self._storage.invitations.add_invitation(invitation)
        return CreatedInvitation(invitation, code)

    async def list(self, caller: Principal) -> list[Invitation]:
        if caller.role is Role.CLIENT:
            raise Forbidden("Clients do not issue invitations.")
        return await self._storage.invitations.get_invitations_by_inviter(caller.account_id)

    async def revoke(self, caller: Principal, invitation_id: str) -> None:
        if caller.role is Role.CLIENT:
            raise Forbidden("Clients do not issue invitations.")
        if not await self._storage.invitations.revoke_invitation(
            invitation_id, caller.account_id, self._clock()
        ):
            raise NotFound("No unused invitation of yours has this id.")
        if caller.role is Role.ADMIN:
            await self._audit.record(AuditEvent.ADMIN_INVITATION_REVOKED, account_id=caller.account_id)
