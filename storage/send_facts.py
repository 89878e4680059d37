"""What authorizing one send needs, read together: the device sets, both accounts' state, the link, consent.

A send is authorized on every call (server/services/mailbox.py). Reading these facts store by store costs one
reader-thread hop each on SQLite; ``SendFactsStore.get_send_facts`` reads them in ONE call. It is a member
of the ``Storage`` port like any other store: an adapter with a native single-call read provides its own
(SQLite), any other adapter provides ``ComposedSendFactsStore`` over its own stores, which gives the same
answers (tests/storage/test_send_facts.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from storage.records import Account, ConsentState, Device

if TYPE_CHECKING:  # storage.protocols names SendFactsStore as a member of the port
    from storage.protocols import AccountStore, ConsentStore, DeviceStore, LinkStore

__all__ = ["ComposedSendFactsStore", "PairFacts", "SendFacts", "SendFactsStore"]


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


class ComposedSendFactsStore:
    """The facts from the ordinary store reads of one backend, issued together."""

    def __init__(
        self, accounts: AccountStore, links: LinkStore, consent: ConsentStore, devices: DeviceStore
    ) -> None:
        self._accounts = accounts
        self._links = links
        self._consent = consent
        self._devices = devices

    async def get_send_facts(
        self, sender_id: str, recipient_id: str, pair: tuple[str, str] | None
    ) -> SendFacts:
        if pair is None:
            sender, devices = await asyncio.gather(
                self._accounts.get_account(sender_id), self._devices.get_devices([sender_id])
            )
            return SendFacts(_enabled(sender), *_device_sets(devices), None)
        therapist_id, client_id = pair
        sender, recipient, link, consent, devices = await asyncio.gather(
            self._accounts.get_account(sender_id),
            self._accounts.get_account(recipient_id),
            self._links.get_link(therapist_id, client_id),
            self._consent.get_consent_state(therapist_id, client_id),
            self._devices.get_devices([sender_id, recipient_id]),
        )
        return SendFacts(
            _enabled(sender),
            *_device_sets(devices),
            PairFacts(link is not None, _enabled(recipient), consent),
        )
