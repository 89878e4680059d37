"""Aggregate reads for operators: the figures the admin dashboard and the metrics sampler need.

Every method returns counts, never rows that say who talks to whom: no links, no mailbox rows, no labels.
They run from a periodic sampler (every few seconds) or an admin request, never on the messaging hot path,
so a full scan of the mailbox is acceptable here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from storage.records import Account, Role

__all__ = ["AccountSummary", "Backlog", "OpsStore", "Population"]


@dataclass(frozen=True, slots=True)
class Backlog:
    envelopes: int  # stored, unexpired, not yet acknowledged
    oldest_sent_at: int | None  # None when empty


@dataclass(frozen=True, slots=True)
class Population:
    accounts: dict[str, int]  # role -> active accounts
    disabled_accounts: dict[str, int]  # role -> disabled accounts
    active_devices: int
    pending_invitations: dict[str, int]  # role -> unused, unexpired, unrevoked


@dataclass(frozen=True, slots=True)
class AccountSummary:
    account: Account
    active_devices: int


class OpsStore(Protocol):
    async def get_backlog(self, now: int) -> Backlog: ...

    async def get_population(self, now: int) -> Population: ...

    async def get_accounts_by_role(self, roles: tuple[Role, ...], limit: int) -> list[AccountSummary]:
        """Accounts of these roles, oldest first (admins and therapists: never used for clients)."""
        ...

    async def count_sessions_by_state(self) -> dict[str, int]:
        """Video sessions by state; empty when this backend stores no sessions yet."""
        ...
