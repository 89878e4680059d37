"""Services hold the rules. They depend on storage Protocols, a Broker and a Notifier, nothing concrete."""

from __future__ import annotations

from dataclasses import dataclass

from server.clock import Clock
from server.config import Settings
from server.services.accounts import AccountService
from server.services.auth import AuthService
from server.services.consent import ConsentService
from server.services.expiry import ExpiryService
from server.services.invitations import InvitationService
from server.services.links import LinkService
from server.services.mailbox import MailboxService
from server.services.notify import Notifier
from server.services.prekeys import PrekeyService
from server.services.ratelimit import RateLimiter
from storage.broker import Broker
from storage.protocols import Storage

__all__ = ["Services", "build_services"]


@dataclass(frozen=True, slots=True)
class Services:
    auth: AuthService
    invitations: InvitationService
    accounts: AccountService
    links: LinkService
    prekeys: PrekeyService
    consent: ConsentService
    mailbox: MailboxService
    expiry: ExpiryService
    limiter: RateLimiter


def build_services(settings: Settings, storage: Storage, broker: Broker, notifier: Notifier, clock: Clock) -> Services:
    limiter = RateLimiter(broker)
    links = LinkService(storage)
    return Services(
        auth=AuthService(storage, limiter, clock, settings.token_ttl_seconds),
        invitations=InvitationService(storage, clock, settings.invitation_ttl_seconds),
        accounts=AccountService(storage, notifier, limiter, clock),
        links=links,
        prekeys=PrekeyService(storage, links, notifier),
        consent=ConsentService(storage, links, notifier, clock),
        mailbox=MailboxService(storage, links, notifier, limiter, clock, settings.envelope_ttl_seconds),
        expiry=ExpiryService(storage, clock),
        limiter=limiter,
    )
