"""Feature: the encrypted account vault over HTTP (docs/API.md, "Vault").

    PUT    /api/v1/vault/records/<id>           {expected_version, ciphertext} -> {version, seq, ...}
    GET    /api/v1/vault/records/<id>           -> the record
    POST   /api/v1/vault/records/<id>/delete    {expected_version} -> {position}
    GET    /api/v1/vault?after=N&limit=M        -> records changed after position N, oldest change first
    GET    /api/v1/vault/index                  -> every record's id and version (finds deletions)
    PUT    /api/v1/recovery                     {lookup_id, verifier, ciphertext} (a signed-in device)
    GET    /api/v1/recovery                     -> {created_at} of the account's recovery key
    POST   /api/v1/recovery/fetch               {lookup_id, authenticator} (anonymous) -> the sealed backup
    POST   /api/v1/recovery/device              {lookup_id, authenticator, device} (anonymous) -> the new
                                                device, certified by the account key on record

Every write wakes the account's devices with ``vault_changed {position}``. The server cannot read a byte.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web
from msgspec import Meta

from server import limits
from server.context import AppContext, Route
from server.errors import InvalidField, NotFound
from server.http._base import API, b64, bearer_principal, client_ip, read_body, reply
from server.services.vault import AUTHENTICATOR_BYTES, VERIFIER_BYTES
from server.wire import decode
from server.wire.decode import device_keys
from server.wire.requests import _B64, DeviceIn, Key32
from server.wire.responses import DeviceAddedOut
from storage.vault import VaultRecord

__all__ = [
    "DeleteRecordIn",
    "IndexOut",
    "PositionOut",
    "PutRecordIn",
    "RecordOut",
    "RecoveryDeviceIn",
    "RecoveryFetchIn",
    "RecoveryIn",
    "RecoveryOut",
    "RecoveryStatusOut",
    "VaultPageOut",
    "register",
]

_HEX_ID = r"{record_id:[0-9a-f]{32}}"
HexId = Annotated[str, Meta(pattern="^[0-9a-f]{32}$", description="16 bytes as 32 lowercase hex")]
Version = Annotated[int, Meta(ge=0, le=2**63 - 1)]
# The limits are multiples of 3: any canonical base64 up to this length decodes to at most the limit.
_RECORD_B64 = 4 * -(-limits.MAX_VAULT_RECORD_BYTES // 3)
_BACKUP_B64 = 4 * -(-limits.MAX_RECOVERY_BACKUP_BYTES // 3)


class PutRecordIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    expected_version: Version  # 0: create; else the version this write replaces
    ciphertext: Annotated[
        str,
        Meta(
            min_length=4,
            max_length=_RECORD_B64,
            pattern=f"^{_B64}$",
            description="the sealed record (docs/PROTOCOL.md section 22.2) in standard base64",
        ),
    ]


class DeleteRecordIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    expected_version: Version  # the version being deleted: a newer one (another device wrote) is a conflict


class RecoveryIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    lookup_id: HexId
    verifier: Key32  # SHA-256 of the authenticator
    ciphertext: Annotated[
        str,
        Meta(
            min_length=4,
            max_length=_BACKUP_B64,
            pattern=f"^{_B64}$",
            description="the sealed recovery backup (docs/PROTOCOL.md section 22.4) in standard base64",
        ),
    ]


class RecoveryFetchIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    lookup_id: HexId
    authenticator: Key32


class RecoveryDeviceIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    lookup_id: HexId
    authenticator: Key32
    device: DeviceIn  # its certificate signed with the account key restored from the backup


class RecordOut(msgspec.Struct, frozen=True, omit_defaults=True):
    record_id: str
    version: int
    seq: int  # the account's change position at this record's last write
    size: int
    updated_at: int
    ciphertext: str | None = None  # base64; absent in a write's reply (the writer has it)


class VaultPageOut(msgspec.Struct, frozen=True):
    position: int
    records: list[RecordOut]
    more: bool


class IndexOut(msgspec.Struct, frozen=True):
    position: int
    records: list[RecordOut]  # without ciphertext
    max_records: int
    max_record_bytes: int


class PositionOut(msgspec.Struct, frozen=True):
    position: int


class RecoveryStatusOut(msgspec.Struct, frozen=True):
    created_at: int


class RecoveryOut(msgspec.Struct, frozen=True):
    account_id: str
    ciphertext: str
    created_at: int


def _out(r: VaultRecord, *, content: bool) -> RecordOut:
    return RecordOut(
        r.record_id, r.version, r.seq, r.size, r.updated_at, b64(r.ciphertext) if content else None
    )


def _int_query(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 19 or int(raw) > high:
        raise InvalidField(f"Query parameter {name!r} must be an integer from 0 to {high}.", {"field": name})
    return int(raw)


def register(ctx: AppContext) -> None:
    service = ctx.services.vault
    auth = ctx.services.auth

    async def put_record(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        body = await read_body(request, PutRecordIn)
        ciphertext = decode.b64(body.ciphertext, "ciphertext", max_size=limits.MAX_VAULT_RECORD_BYTES)
        if not ciphertext:
            raise InvalidField("Field 'ciphertext' must not be empty.", {"field": "ciphertext"})
        record = await service.put(caller, request.match_info["record_id"], ciphertext, body.expected_version)
        return reply(_out(record, content=False))

    async def get_record(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        return reply(_out(await service.get(caller, request.match_info["record_id"]), content=True))

    async def delete_record(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        body = await read_body(request, DeleteRecordIn)
        return reply(
            PositionOut(await service.delete(caller, request.match_info["record_id"], body.expected_version))
        )

    async def changes(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        after = _int_query(request, "after", 0, 2**63 - 1)
        limit = _int_query(request, "limit", limits.DEFAULT_VAULT_PAGE, limits.MAX_VAULT_PAGE) or 1
        page = await service.changes(caller, after, limit)
        return reply(VaultPageOut(page.position, [_out(r, content=True) for r in page.records], page.more))

    async def index(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        position, entries = await service.index(caller)
        records = [RecordOut(e.record_id, e.version, e.seq, e.size, e.updated_at) for e in entries]
        return reply(IndexOut(position, records, limits.MAX_VAULT_RECORDS, limits.MAX_VAULT_RECORD_BYTES))

    async def set_recovery(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        body = await read_body(request, RecoveryIn)
        verifier = decode.b64(body.verifier, "verifier", size=VERIFIER_BYTES)
        sealed = decode.b64(body.ciphertext, "ciphertext", max_size=limits.MAX_RECOVERY_BACKUP_BYTES)
        return reply(RecoveryStatusOut(await service.set_recovery(caller, body.lookup_id, verifier, sealed)))

    async def recovery_status(request: web.Request) -> web.Response:
        caller = await bearer_principal(request, auth)
        created = await service.recovery_status(caller)
        if created is None:
            raise NotFound("This account has no recovery key yet.")
        return reply(RecoveryStatusOut(created))

    async def fetch_recovery(request: web.Request) -> web.Response:
        body = await read_body(request, RecoveryFetchIn)
        authenticator = decode.b64(body.authenticator, "authenticator", size=AUTHENTICATOR_BYTES)
        got = await service.fetch_recovery(body.lookup_id, authenticator, client_ip(request))
        return reply(RecoveryOut(got.account_id, b64(got.ciphertext), got.created_at))

    async def recovery_device(request: web.Request) -> web.Response:
        body = await read_body(request, RecoveryDeviceIn)
        authenticator = decode.b64(body.authenticator, "authenticator", size=AUTHENTICATOR_BYTES)
        account, device = await ctx.services.recovery.add_device(
            body.lookup_id, authenticator, device_keys(body.device), client_ip(request)
        )
        return reply(DeviceAddedOut(account.account_id, device.device_id, account.role.value), 201)

    tag = "vault"
    record = f"{API}/vault/records/{_HEX_ID}"
    ctx.add_route(
        Route(
            "PUT",
            record,
            put_record,
            "Create or replace a vault record (expected_version)",
            tag,
            body=PutRecordIn,
            response=RecordOut,
        )
    )
    ctx.add_route(Route("GET", record, get_record, "Read one vault record", tag, response=RecordOut))
    ctx.add_route(
        Route(
            "POST",
            f"{record}/delete",
            delete_record,
            "Delete a vault record (expected_version)",
            tag,
            body=DeleteRecordIn,
            response=PositionOut,
        )
    )
    ctx.add_route(
        Route(
            "GET",
            f"{API}/vault",
            changes,
            "Vault records changed after a position (query: after, limit)",
            tag,
            response=VaultPageOut,
        )
    )
    ctx.add_route(
        Route(
            "GET", f"{API}/vault/index", index, "Every vault record's id and version", tag, response=IndexOut
        )
    )
    ctx.add_route(
        Route(
            "PUT",
            f"{API}/recovery",
            set_recovery,
            "Store the account's sealed recovery backup",
            tag,
            body=RecoveryIn,
            response=RecoveryStatusOut,
        )
    )
    ctx.add_route(
        Route(
            "GET",
            f"{API}/recovery",
            recovery_status,
            "When the account's recovery key was made",
            tag,
            response=RecoveryStatusOut,
        )
    )
    ctx.add_route(
        Route(
            "POST",
            f"{API}/recovery/fetch",
            fetch_recovery,
            "Fetch a sealed recovery backup with the recovery key's lookup id and authenticator",
            tag,
            body=RecoveryFetchIn,
            response=RecoveryOut,
            auth=False,
        )
    )
    ctx.add_route(
        Route(
            "POST",
            f"{API}/recovery/device",
            recovery_device,
            "Register a device re-created from the recovery key (certified by the account key on record)",
            tag,
            body=RecoveryDeviceIn,
            response=DeviceAddedOut,
            auth=False,
            status=201,
        )
    )
