"""Services hold the rules. They depend on storage Protocols, a Broker and a Notifier, nothing concrete.

``build_services`` builds every one of them (called once, by the composition root ``server.app``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.clock import Clock
from server.config import Settings
from server.services.accounts import AccountService
from server.services.admin import AdminService
from server.services.auth import AuthService
from server.services.authz_cache import AuthzCache
from server.services.blobs import BlobService, blob_limits
from server.services.consent import ConsentService
from server.services.custodian import CustodianService
from server.services.device_links import DeviceLinkService
from server.services.discharge import DischargeService
from server.services.erasure import ErasureService, pause_from_env
from server.services.expiry import ExpiryService
from server.services.export import ExportService
from server.services.invitations import InvitationService
from server.services.links import LinkService
from server.services.mailbox import MailboxService
from server.services.mailbox_cache import MailboxTailCache
from server.services.notify import Notifier
from server.services.practice import PracticeService
from server.services.prekeys import PrekeyService
from server.services.ratelimit import RateLimiter
from server.services.recovery import RecoveryService
from server.services.retention import RetentionService
from server.services.session_events import AuditedSessionEvents
from server.services.vault import VaultService
from server.services.wakeups import WakeUps
from signaling.sessions import SessionService, TurnSettings
from storage.broker import Broker
from storage.protocols import Storage

if TYPE_CHECKING:  # server.operations imports (through server.context) this package
    from server.operations import Operations

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
    wakeups: WakeUps  # live wake-ups after sends; its worker is a background task of the app
    sessions: SessionService  # video sessions (signaling.sessions)
    admin: AdminService
    erasure: ErasureService  # account deletion (server/services/erasure.py)
    discharge: DischargeService  # a therapist ends a client's link
    retention: RetentionService  # deletions by age (the sweeper runs it)
    export: ExportService  # right of access: what the server holds about the caller
    blobs: BlobService  # attachment blobs (server/services/blobs.py)
    vault: VaultService  # the encrypted account vault (server/services/vault.py)
    recovery: RecoveryService  # a device re-created from the recovery key (server/services/recovery.py)
    practice: PracticeService  # settings the clients enforce (server/services/practice.py)
    custodian: CustodianService  # the records custodian (server/services/custodian.py)


def build_services(
    settings: Settings,
    storage: Storage,
    broker: Broker,
    notifier: Notifier,
    clock: Clock,
    *,
    ops: Operations,
    node_id: str,
) -> Services:
    """Every service; ``storage`` and ``broker`` are the timed ones ``build_operations`` returned."""
    observer = ops.metrics
    audit = ops.audit
    limiter = RateLimiter(broker)
    links = LinkService(storage)
    # Exact only while this process is the database's sole writer (server/services/authz_cache.py says why).
    single_node = not settings.redis_url and not settings.mongodb_uri
    authz = AuthzCache(storage.send_facts, enabled=single_node)
    tail = MailboxTailCache(enabled=single_node)  # exact for the same reason, dropped by the same writes
    authz.on_invalidate(tail.invalidate)
    wakeups = WakeUps(notifier)
    accounts = AccountService(storage, notifier, limiter, clock, authz=authz, audit=audit)
    vault = VaultService(storage.vault, notifier, limiter, clock)

    async def is_linked(therapist_id: str, client_id: str) -> bool:
        return await storage.links.get_link(therapist_id, client_id) is not None

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
            wakeups,
            limiter,
            clock,
            settings.envelope_ttl_seconds,
            authz=authz,
            tail=tail,
            observer=observer,
        ),
        expiry=ExpiryService(storage, clock, observer=observer),
        limiter=limiter,
        authz=authz,
        wakeups=wakeups,
        sessions=SessionService(
            storage.appointments,
            broker,
            notifier,
            clock,
            is_linked=is_linked,
            require_consent=links.require_consent,
            turn=TurnSettings(settings.turn_urls, settings.turn_secret),
            events=AuditedSessionEvents(audit, observer),
        ),
        admin=AdminService(
            storage, notifier, audit, observer, ops.readiness, clock, node_id, authz=authz
        ),
        erasure=ErasureService(storage, notifier, audit, clock, authz=authz,
                               pause=pause_from_env(str(settings.data_dir))),
        discharge=DischargeService(storage, notifier, audit, authz=authz),
        retention=RetentionService(storage, clock, sends_seconds=settings.sends_retention_seconds,
                                   attendance_days=settings.attendance_retention_days,
                                   audit_days=settings.audit_retention_days),
        export=ExportService(storage, audit, clock),
        blobs=BlobService(storage.blobs, storage, links, clock, blob_limits(settings)),
        vault=vault,
        recovery=RecoveryService(storage, vault, accounts, clock, authz=authz),
        practice=PracticeService(storage.practice, clock, audit=audit),
        custodian=CustodianService(storage, audit, clock),
    )
