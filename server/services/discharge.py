"""Discharge: a therapist ends a client's link when therapy ends.

The link row goes, so the send check (send facts) refuses messages both ways, key bundles are no longer
handed out, and joining a session needs a link (signaling.sessions ``is_linked``). Both accounts are told
at once (``link_ended``) and their apps keep what they hold: the client's conversation history and the
therapist's notes are on their devices, never on the server. The signed consents stay as the record of
what was agreed. Re-linking takes a new invitation (there is no "undo").
"""

from __future__ import annotations

import msgspec

from server.audit import AuditEvent, AuditRecorder
from server.errors import Forbidden, NotFound
from server.services.authz_cache import AuthzCache
from server.services.notify import Notifier
from server.services.values import Principal
from storage.protocols import Storage
from storage.records import Role

__all__ = ["DischargeService", "LinkEndedEvent"]


class LinkEndedEvent(msgspec.Struct, frozen=True):
    therapist_id: str
    client_id: str


class DischargeService:
    def __init__(self, storage: Storage, notifier: Notifier, audit: AuditRecorder, *,
                 authz: AuthzCache) -> None:
        self._storage = storage
        self._notifier = notifier
        self._audit = audit
        self._authz = authz

    async def discharge(self, caller: Principal, client_id: str) -> None:
        if caller.role is not Role.THERAPIST:
            raise Forbidden("Only a therapist can end a client's link.")
        therapist_id = caller.account_id
        ended = await self._authz.after_commit(
            self._storage.links.delete_link(therapist_id, client_id), lambda _: (therapist_id, client_id)
        )
        if not ended:
            raise NotFound("You have no link with this client.")
        event = LinkEndedEvent(therapist_id, client_id)
        await self._notifier.to_account(client_id, "link_ended", event)
        await self._notifier.to_account(therapist_id, "link_ended", event)
        # One entry per side, each naming only its own account: the log keeps no pair of accounts.
        await self._audit.record(AuditEvent.LINK_DISCHARGED, account_id=therapist_id, role="therapist")
        await self._audit.record(AuditEvent.LINK_DISCHARGED, account_id=client_id, role="client")
