"""Consent: therapists publish versioned terms; clients sign their acceptance with the identity key.

Signed message: ``b"confidant-consent-v1" || therapist_id (16) || client_id (16) || version (u32 BE)
|| terms_hash (32) || signed_at (u64 BE)``. Messaging needs a consent for the therapist's current version.
"""

from __future__ import annotations

from server import limits
from server._verify import consent_message as signed_consent_message
from server._verify import verify
from server.audit import AuditEvent, AuditRecorder, NullAuditRecorder
from server.clock import Clock
from server.errors import (
    Conflict,
    Forbidden,
    InvalidField,
    LimitReached,
    NotFound,
    PayloadTooLarge,
    SignatureInvalid,
)
from server.services._secrets import sha256
from server.services.authz_cache import AuthzCache
from server.services.links import LinkService
from server.services.notify import Notifier
from server.services.values import ConsentSignature, Principal
from server.wire.responses import ConsentChangedEvent
from storage.errors import TermsVersionConflict
from storage.protocols import Storage
from storage.records import Consent, Role, Terms

__all__ = ["ConsentService", "consent_message"]


def consent_message(
    therapist_id: str, client_id: str, version: int, terms_hash: bytes, signed_at: int
) -> bytes:
    """crypto.signed's consent message (docs/PROTOCOL.md section 16.1) from the hex ids the server holds."""
    return signed_consent_message(
        bytes.fromhex(therapist_id), bytes.fromhex(client_id), version, terms_hash, signed_at
    )


class ConsentService:
    def __init__(
        self,
        storage: Storage,
        links: LinkService,
        notifier: Notifier,
        clock: Clock,
        *,
        authz: AuthzCache,
        audit: AuditRecorder | None = None,
    ) -> None:
        self._audit = audit or NullAuditRecorder()
        self._storage = storage
        self._links = links
        self._notifier = notifier
        self._clock = clock
        self._authz = authz

    async def publish_terms(self, caller: Principal, text: str) -> Terms:
        if caller.role is not Role.THERAPIST:
            raise Forbidden("Only therapists publish confidentiality terms.")
        encoded = text.encode("utf-8")
        if len(encoded) > limits.MAX_TERMS_TEXT_BYTES:
            raise PayloadTooLarge(
                f"Terms are at most {limits.MAX_TERMS_TEXT_BYTES} bytes of UTF-8.",
                {"limit": limits.MAX_TERMS_TEXT_BYTES, "field": "text"},
            )
        digest = sha256(encoded)
        current = await self._storage.consent.get_terms(caller.account_id)
        if current is not None and current.terms_hash == digest:
            # A version with nothing new would still pull every client back to accept it again.
            raise Conflict(
                "These terms are the same as your current version; nothing was published.",
                {"reason": "terms_unchanged", "current_version": current.version},
            )
        if current is not None and current.version >= limits.MAX_TERMS_VERSIONS:
            raise LimitReached(
                f"You have published {current.version} versions of your terms, the most a therapist may.",
                {"limit": limits.MAX_TERMS_VERSIONS, "what": "terms_versions"},
            )
        try:
            terms = await self._authz.after_commit(
                self._storage.consent.add_terms(caller.account_id, text, digest, self._clock()),
                lambda _: (caller.account_id,),  # every pair of this therapist now needs the new version
            )
        except TermsVersionConflict:
            raise Conflict("Another version of your terms was published at the same time; retry.") from None
        event = ConsentChangedEvent(caller.account_id, terms.version)
        await self._notifier.to_account(caller.account_id, "consent_changed", event)
        for link in await self._storage.links.get_links_of(caller.account_id):
            await self._notifier.to_account(link.client_id, "consent_changed", event)
        return terms

    async def get_terms(self, caller: Principal, therapist_id: str) -> Terms:
        if therapist_id != caller.account_id:
            if caller.role is not Role.CLIENT:
                raise NotFound("No terms visible to you for this account.")
            link = await self._storage.links.get_link(therapist_id, caller.account_id)
            if link is None:
                raise NotFound("No terms visible to you for this account.")
        terms = await self._storage.consent.get_terms(therapist_id)
        if terms is None:
            raise NotFound("This therapist has not published terms yet.")
        return terms

    async def accept(self, caller: Principal, sig: ConsentSignature) -> int:
        if caller.role is not Role.CLIENT:
            raise Forbidden("Only clients accept a therapist's terms.")
        await self._links.require_link(caller, sig.therapist_id)
        terms = await self._storage.consent.get_terms(sig.therapist_id)
        if terms is None or terms.version != sig.version:
            current = 0 if terms is None else terms.version
            raise Conflict(
                "Only the therapist's current terms version can be accepted.",
                {"field": "version", "current_version": current},
            )
        if sig.terms_hash != terms.terms_hash:
            raise InvalidField("terms_hash is not the hash of this version's text.", {"field": "terms_hash"})
        now = self._clock()
        if sig.signed_at > now + limits.CONSENT_CLOCK_SKEW_MS:
            raise InvalidField("signed_at is in the future.", {"field": "signed_at"})
        device = await self._storage.devices.get_device(caller.device_id)
        assert device is not None  # the caller's token references it
        message = consent_message(
            sig.therapist_id, caller.account_id, sig.version, sig.terms_hash, sig.signed_at
        )
        if not verify(device.identity_key, message, sig.signature):
            raise SignatureInvalid(
                "The consent signature does not verify with this device's identity key.",
                {"field": "signature"},
            )
        consent = Consent(
            sig.therapist_id,
            caller.account_id,
            sig.version,
            sig.terms_hash,
            sig.signed_at,
            sig.signature,
            caller.device_id,
            now,
        )
        await self._authz.after_commit(
            self._storage.consent.add_consent(consent), lambda _: (caller.account_id,)
        )
        # The entry names the client only: the audit log never records who is whose therapist.
        await self._audit.record(
            AuditEvent.CONSENT_ACCEPTED,
            account_id=caller.account_id,
            device_id=caller.device_id,
            version=sig.version,
        )
        event = ConsentChangedEvent(sig.therapist_id, sig.version)
        await self._notifier.to_account(sig.therapist_id, "consent_changed", event)
        await self._notifier.to_account(caller.account_id, "consent_changed", event)
        return now

    async def list(self, caller: Principal) -> list[Consent]:
        if caller.role is Role.ADMIN:
            raise Forbidden("Administrators cannot see consents.")
        return await self._storage.consent.get_consents_of(caller.account_id)
