"""Row -> record conversions shared by the SQLite stores."""

from __future__ import annotations

import sqlite3
from typing import Any

from storage.records import Account, Device, Invitation, NewDevice, Role, SignedPrekey

DEVICE_COLUMNS = (
    "device_id, account_id, identity_key, signed_prekey_id, signed_prekey_public, "
    "signed_prekey_signature, created_at, revoked_at, certificate"
)
INVITATION_COLUMNS = (
    "invitation_id, code_hash, inviter_id, role, created_at, expires_at, used_at, revoked_at, "
    "account_id, label_ciphertext"
)


ACCOUNT_COLUMNS = "account_id, role, created_at, disabled, account_key"


def account(row: Any) -> Account:
    key = b"" if len(row) < 5 or row[4] is None else bytes(row[4])
    return Account(
        account_id=row[0], role=Role(row[1]), created_at=row[2], disabled=bool(row[3]), account_key=key
    )


def device(row: Any) -> Device:
    return Device(
        device_id=row[0],
        account_id=row[1],
        identity_key=bytes(row[2]),
        signed_prekey=SignedPrekey(id=row[3], public=bytes(row[4]), signature=bytes(row[5])),
        created_at=row[6],
        revoked_at=row[7],
        certificate=b"" if row[8] is None else bytes(row[8]),
    )


def invitation(row: Any) -> Invitation:
    return Invitation(
        invitation_id=row[0],
        code_hash=bytes(row[1]),
        inviter_id=row[2],
        role=Role(row[3]),
        created_at=row[4],
        expires_at=row[5],
        used_at=row[6],
        revoked_at=row[7],
        account_id=row[8],
        label_ciphertext=None if row[9] is None else bytes(row[9]),
    )


def insert_device(conn: sqlite3.Connection, account_id: str, new: NewDevice, now: int) -> Device:
    """Insert a device and its first one-time prekeys (inside the caller's transaction)."""
    spk = new.signed_prekey
    conn.execute(
        f"INSERT INTO devices ({DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
        (
            new.device_id,
            account_id,
            new.identity_key,
            spk.id,
            spk.public,
            spk.signature,
            now,
            new.certificate,
        ),
    )
    conn.executemany(
        "INSERT INTO one_time_prekeys (device_id, prekey_id, public) VALUES (?, ?, ?)",
        [(new.device_id, p.id, p.public) for p in new.one_time_prekeys],
    )
    return Device(
        device_id=new.device_id,
        account_id=account_id,
        identity_key=new.identity_key,
        signed_prekey=spk,
        created_at=now,
        revoked_at=None,
        certificate=new.certificate,
    )
