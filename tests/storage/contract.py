"""Helpers shared by the contract tests: records built the way services build them."""

from __future__ import annotations

import hashlib
import os
import secrets

from storage.protocols import Storage
from storage.records import (
    Account,
    Invitation,
    NewDevice,
    NewEnvelope,
    NewSend,
    OneTimePrekey,
    Role,
    SignedPrekey,
)

NOW = 1_800_000_000_000


def new_id() -> str:
    return secrets.token_hex(16)


def code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


def new_device(prekeys: int = 3, first_id: int = 1) -> NewDevice:
    return NewDevice(
        device_id=new_id(),
        identity_key=os.urandom(32),
        signed_prekey=SignedPrekey(1, os.urandom(32), os.urandom(64)),
        one_time_prekeys=tuple(OneTimePrekey(first_id + i, os.urandom(32)) for i in range(prekeys)),
    )


def invitation(
    code: str,
    role: Role,
    inviter_id: str | None = None,
    expires_in_ms: int = 60_000,
    label: bytes | None = None,
) -> Invitation:
    return Invitation(
        invitation_id=new_id(),
        code_hash=code_hash(code),
        inviter_id=inviter_id,
        role=role,
        created_at=NOW,
        expires_at=NOW + expires_in_ms,
        label_ciphertext=label,
    )


def send(
    from_account: str,
    from_device: str,
    to_account: str,
    devices: list[str],
    message_id: str | None = None,
    now: int = NOW,
    ttl_ms: int = 60_000,
) -> NewSend:
    return NewSend(
        message_id=message_id or new_id(),
        from_account=from_account,
        from_device=from_device,
        to_account=to_account,
        envelopes=tuple(NewEnvelope(d, "message", os.urandom(40)) for d in devices),
        sent_at=now,
        expires_at=now + ttl_ms,
    )


async def add_account(
    store: Storage, role: Role, inviter_id: str | None = None, prekeys: int = 3, now: int = NOW
) -> tuple[Account, NewDevice]:
    """An account with one device, created the one way services create accounts (an invitation)."""
    code = new_id()
    await store.invitations.add_invitation(invitation(code, role, inviter_id))
    device = new_device(prekeys)
    account, _ = await store.accounts.add_account_from_invitation(
        code_hash=code_hash(code), account_id=new_id(), device=device, now=now
    )
    return account, device
