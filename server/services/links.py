"""Who may reach whom: an account reaches itself, its linked therapist/clients, and no one else.

Admins are never linked to anyone: they cannot fetch keys of, or send to, any other account.
"""

from __future__ import annotations

from server.errors import ConsentRequired, Forbidden, NotLinked
from server.services.values import Principal
from storage.protocols import Storage
from storage.records import ConsentState, Link, Role
from storage.send_facts import PairFacts

__all__ = ["LinkService"]


_MAX_KNOWN_LINKS = 100_000  # ~20 MB at most; cleared (not evicted one by one) when full


class LinkService:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        # Links are created by redeeming an invitation and never removed, so a link seen once stays true:
        # remembering it saves one read per key fetch or consent. Absent links are never remembered (another
        # node may create one any moment), and whether the other account is still reachable is read on every
        # call. Sends do not come here: they get all their facts at once (server/services/authz_cache.py).
        self._known: dict[tuple[str, str], Link] = {}

    def pair(self, caller: Principal, other_id: str) -> tuple[str, str]:
        """The (therapist_id, client_id) of a link between caller and other, by the caller's role."""
        if caller.role is Role.THERAPIST:
            return caller.account_id, other_id
        if caller.role is Role.CLIENT:
            return other_id, caller.account_id
        raise NotLinked("Administrators are not linked to any account.")

    async def require_link(self, caller: Principal, other_id: str) -> Link:
        therapist_id, client_id = self.pair(caller, other_id)
        known = self._known.get((therapist_id, client_id))
        if known is not None:
            return known
        link = await self._storage.links.get_link(therapist_id, client_id)
        if link is None:
            raise _not_linked()
        if len(self._known) >= _MAX_KNOWN_LINKS:
            self._known.clear()
        self._known[(therapist_id, client_id)] = link
        return link

    async def require_reachable(self, other_id: str) -> None:
        account = await self._storage.accounts.get_account(other_id)
        if account is None or account.disabled:
            raise _disabled()

    async def require_consent(self, therapist_id: str, client_id: str) -> None:
        _check_consent(therapist_id, await self._storage.consent.get_consent_state(therapist_id, client_id))

    def check_pair(self, therapist_id: str, facts: PairFacts) -> None:
        """``require_link``, ``require_reachable`` then ``require_consent``, on facts read at once."""
        if not facts.linked:
            raise _not_linked()
        if not facts.recipient_enabled:
            raise _disabled()
        _check_consent(therapist_id, facts.consent)


def _not_linked() -> NotLinked:
    return NotLinked("You are not therapist and client of each other.")


def _disabled() -> Forbidden:
    return Forbidden("This account is disabled.")


def _check_consent(therapist_id: str, state: ConsentState) -> None:
    if state.current_version == 0 or state.accepted_version < state.current_version:
        raise ConsentRequired(
            "The client has not accepted the therapist's current confidentiality terms.",
            {"therapist_id": therapist_id, "version": state.current_version},
        )
