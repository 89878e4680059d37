"""What authorizing one send needs, read together: the device sets, both accounts' state, the link, consent.

A send is authorized on every call (server/services/mailbox.py). Reading these facts store by store costs one
reader-thread hop each on SQLite; ``SendFactsStore.get_send_facts`` reads them in ONE call. Adapters with a
native single-call read provide one (SQLite); any other ``Storage`` gets ``ProtocolSendFactsStore``, which
composes the ordinary store reads and gives the same answers (tests/storage/test_send_facts.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from storage.protocols import Storage
from storage.records import Account, ConsentState, Device

__all__ = ["PairFacts", "ProtocolSendFactsStore", "SendFacts", "SendFactsStore", "send_facts_store"]


@dataclass(frozen=True, slots=True)
class PairFacts:
    """The therapist<->client pair of a send to another account."""

    linked: bool
    recipient_enabled: bool  # the recipient account exists and is not disabled
    consent: ConsentState


@dataclass(frozen=True, slots=True)
class SendFacts:
    sender_enabled: bool  # the sender's account exists and is not disabled
    active_devices: frozenset[str]  # every active device of the sender's and the recipient's accounts
    revoked_devices: frozenset[str]  # every revoked device of those accounts
    pair: PairFacts | None  # None for a send to one's own account (no link, no consent)


class SendFactsStore(Protocol):
    async def get_send_facts(
        self, sender_id: str, recipient_id: str, pair: tuple[str, str] | None
    ) -> SendFacts:
        """The facts of a send from ``sender_id`` to ``recipient_id``; ``pair`` is the (therapist_id,
        client_id) of their link, or None when the recipient is the sender's own account."""
        ...


def _enabled(account: Account | None) -> bool:
    return account is not None and not account.disabled


def _device_sets(devices: list[Device]) -> tuple[frozenset[str], frozenset[str]]:
    return (
        frozenset(d.device_id for d in devices if d.active),
        frozenset(d.device_id for d in devices if not d.active),
    )


class ProtocolSendFactsStore:
    """The facts from the ordinary store reads (issued together: on SQLite they would share one hop)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def get_send_facts(
        self, sender_id: str, recipient_id: str, pair: tuple[str, str] | None
    ) -> SendFacts:
        s = self._storage
        if pair is None:
            sender, devices = await asyncio.gather(
                s.accounts.get_account(sender_id), s.devices.get_devices([sender_id])
            )
            return SendFacts(_enabled(sender), *_device_sets(devices), None)
        therapist_id, client_id = pair
        sender, recipient, link, consent, devices = await asyncio.gather(
            s.accounts.get_account(sender_id),
            s.accounts.get_account(recipient_id),
            s.links.get_link(therapist_id, client_id),
            s.consent.get_consent_state(therapist_id, client_id),
            s.devices.get_devices([sender_id, recipient_id]),
        )
        return SendFacts(
            _enabled(sender),
            *_device_sets(devices),
            PairFacts(link is not None, _enabled(recipient), consent),
        )


def send_facts_store(storage: Storage) -> SendFactsStore:
    """The single-call reader of this backend. Looked up by the backend's engine, so that wrappers (timing)
    around the storage still work, as for the appointment store."""
    from storage.sqlite._engine import Engine as SqliteEngine
    from storage.sqlite.send_facts import SqliteSendFactsStore

    engine = getattr(storage, "engine", None)
    if isinstance(engine, SqliteEngine):
        return SqliteSendFactsStore(engine)
    return ProtocolSendFactsStore(storage)
