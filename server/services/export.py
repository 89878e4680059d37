"""Right of access: everything the server holds about the caller, as one JSON document.

Built from the ordinary reads of the port, so it shows exactly what is stored (docs/STORAGE.md): the
account row, its devices and public keys, links, invitations it issued, signed consents, the terms it
published, appointments and its own attendance, how many envelopes wait for it, and its own audit entries.
Content is end-to-end encrypted and never readable here: waiting envelopes are counted, not included
(the conversation itself is exported by the app, from the device: docs/WEB.md).
"""

from __future__ import annotations

import base64
from typing import Any

from server import limits
from server.audit import AuditService
from server.clock import Clock
from server.services.values import Principal
from storage.protocols import Storage
from storage.records import Role

__all__ = ["EXPORT_FORMAT", "ExportService"]

EXPORT_FORMAT = "confidant-server-export-v1"


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


class ExportService:
    def __init__(self, storage: Storage, audit: AuditService, clock: Clock) -> None:
        self._storage = storage
        self._audit = audit
        self._clock = clock

    async def export(self, caller: Principal) -> dict[str, Any]:
        s, me, most = self._storage, caller.account_id, limits.MAX_EXPORT_ITEMS
        account = await s.accounts.get_account(me)
        devices = await s.devices.get_devices([me])
        links = await s.links.get_links_of(me)
        consents = await s.consent.get_consents_of(me)
        appointments = await s.appointments.get_appointments_of(me, ends_after=0, limit=most)
        attendance = []
        for a in appointments:
            attendance += [x for x in await s.appointments.get_attendance(a.session_id) if x.account_id == me]
        waiting = 0
        for d in devices:
            if d.active:
                waiting += len(await s.mailbox.get_items(d.device_id, 0, most, self._clock()))
        audit = await self._audit.entries_of(me, [d.device_id for d in devices], None, most)
        terms = await s.consent.get_terms(me) if caller.role is Role.THERAPIST else None
        invitations = await s.invitations.get_invitations_by_inviter(me)
        return {
            "format": EXPORT_FORMAT,
            "generated_at": self._clock(),
            "account": None if account is None else {
                "account_id": account.account_id, "role": account.role.value,
                "created_at": account.created_at, "disabled": account.disabled,
            },
            "devices": [{
                "device_id": d.device_id, "identity_key": _b64(d.identity_key),
                "signed_prekey_id": d.signed_prekey.id, "created_at": d.created_at,
                "revoked_at": d.revoked_at,
                "one_time_prekeys": await s.prekeys.count_one_time_prekeys(d.device_id) if d.active else 0,
            } for d in devices],
            "links": [{
                "therapist_id": x.therapist_id, "client_id": x.client_id, "created_at": x.created_at,
                # The label is the therapist's own sealed note about the client: shown to the therapist only.
                "label_ciphertext": _b64(x.label_ciphertext) if x.therapist_id == me else None,
            } for x in links],
            "invitations_issued": [{
                "invitation_id": i.invitation_id, "role": i.role.value, "created_at": i.created_at,
                "expires_at": i.expires_at, "used_at": i.used_at, "revoked_at": i.revoked_at,
            } for i in invitations],
            "consents": [{
                "therapist_id": c.therapist_id, "client_id": c.client_id, "version": c.version,
                "terms_hash": _b64(c.terms_hash), "signed_at": c.signed_at, "signature": _b64(c.signature),
                "device_id": c.device_id if c.client_id == me else None, "accepted_at": c.accepted_at,
            } for c in consents],
            "terms_published": None if terms is None else {
                "version": terms.version, "text": terms.text, "published_at": terms.published_at,
            },
            "appointments": [{
                "session_id": a.session_id, "therapist_id": a.therapist_id,
                "participants": list(a.participants) if a.therapist_id == me else [me],
                "starts_at": a.starts_at, "ends_at": a.ends_at, "state": a.state,
                "started_at": a.started_at, "ended_at": a.ended_at,
            } for a in appointments],
            "attendance": [{"session_id": x.session_id, "joined_at": x.joined_at, "left_at": x.left_at}
                           for x in attendance],
            "envelopes_waiting": waiting,
            "audit_entries": audit,
        }
