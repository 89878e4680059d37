"""Services hold the rules. They depend on storage Protocols, a Broker and a Notifier, nothing concrete."""

from __future__ import annotations

from dataclasses import dataclass

from server.audit import AuditRecorder, NullAuditRecorder
from server.clock import Clock
from server.config import Settings
from server.observability import NullObserver, Observer
from server.services.accounts import AccountService
from server.services.auth import AuthService
from server.services.authz_cache import AuthzCache
from server.services.consent import ConsentService
from server.services.device_links import DeviceLinkService
from server.services.expiry import ExpiryService
from server.services.invitations import InvitationService
from server.services.links import LinkService
from server.services.mailbox import MailboxService
from server.services.notify import Notifier
from server.services.prekeys import PrekeyService
from server.services.ratelimit import RateLimiter
from storage.broker import Broker
from storage.protocols import Storage
from storage.send_facts import send_facts_store

__all__ = ["Services", "build_services"]


@dataclass(frozen=True, slots=True)
class Services:
    auth: AuthService
    invitations: InvitationService
    accounts: AccountService
    device_links: DeviceLinkService
    links: LinkService
    prekeys: PrekeyService
    consent: ConsentService
    mailbox: MailboxService
    expiry: ExpiryService
    limiter: RateLimiter
    authz: AuthzCache  # every service write that changes who may send to whom invalidates it


def build_services(
    settings: Settings,
    storage: Storage,
    broker: Broker,
    notifier: Notifier,
    clock: Clock,
    *,
    observer: Observer | None = None,
    audit: AuditRecorder | None = None,
) -> Services:
    observer = observer or NullObserver()
    audit = audit or NullAuditRecorder()
    limiter = RateLimiter(broker)
    links = LinkService(storage)
    # Exact only while this process is the database's sole writer (server/services/authz_cache.py says why).
    single_node = not settings.redis_url and not settings.mongodb_uri
    authz = AuthzCache(send_facts_store(storage), enabled=single_node)
    accounts = AccountService(storage, notifier, limiter, clock, authz=authz, audit=audit)
    return Services(
        auth=AuthService(storage, limiter, clock, settings.token_ttl_seconds, notifier=notifier, audit=audit),
        invitations=InvitationService(storage, clock, settings.invitation_ttl_seconds, audit=audit),
        accounts=accounts,
        device_links=DeviceLinkService(storage, broker, limiter, clock, accounts, authz=authz),
        links=links,
        prekeys=PrekeyService(storage, links, notifier, limiter, audit=audit),
        consent=ConsentService(storage, links, notifier, clock, authz=authz, audit=audit),
        mailbox=MailboxService(
            storage,
            links,
            notifier,
            limiter,
            clock,
            settings.envelope_ttl_seconds,
            authz=authz,
            observer=observer,
        ),
        expiry=ExpiryService(storage, clock, observer=observer),
        limiter=limiter,
        authz=authz,
    )
