"""Document <-> record conversions shared by the MongoDB stores."""

from __future__ import annotations

from typing import Any

from storage.mongodb._engine import Session, expire_on
from storage.records import Account, Device, Invitation, NewDevice, OneTimePrekey, Role, SignedPrekey

Doc = dict[str, Any]


def opt_bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def account(doc: Doc) -> Account:
    return Account(
        account_id=doc["_id"],
        role=Role(doc["role"]),
        created_at=doc["created_at"],
        disabled=doc["disabled"],
        account_key=bytes(doc.get("account_key") or b""),
    )


def device(doc: Doc) -> Device:
    return Device(
        device_id=doc["_id"],
        account_id=doc["account_id"],
        identity_key=bytes(doc["identity_key"]),
        signed_prekey=SignedPrekey(
            id=doc["spk_id"], public=bytes(doc["spk_public"]), signature=bytes(doc["spk_signature"])
        ),
        created_at=doc["created_at"],
        revoked_at=doc.get("revoked_at"),
        certificate=bytes(doc.get("certificate") or b""),
    )


def invitation(doc: Doc) -> Invitation:
    return Invitation(
        invitation_id=doc["_id"],
        code_hash=bytes(doc["code_hash"]),
        inviter_id=doc.get("inviter_id"),
        role=Role(doc["role"]),
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
        used_at=doc.get("used_at"),
        revoked_at=doc.get("revoked_at"),
        account_id=doc.get("account_id"),
        label_ciphertext=opt_bytes(doc.get("label_ciphertext")),
    )


def invitation_doc(i: Invitation) -> Doc:
    doc: Doc = {
        "_id": i.invitation_id,
        "code_hash": i.code_hash,
        "inviter_id": i.inviter_id,
        "role": i.role.value,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "used_at": i.used_at,
        "revoked_at": i.revoked_at,
        "account_id": i.account_id,
        "label_ciphertext": i.label_ciphertext,
    }
    if i.used_at is None:
        doc["expire_on"] = expire_on(i.expires_at)
    return doc


async def next_prekey_seqs(counters: Any, device_id: str, n: int, session: Session) -> int:
    """Reserve ``n`` upload-order numbers for a device; returns the first."""
    from pymongo import ReturnDocument

    doc = await counters.find_one_and_update(
        {"_id": device_id},
        {"$inc": {"otk_seq": n}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    first: int = doc["otk_seq"] - n + 1
    return first


def prekey_docs(
    device_id: str, prekeys: tuple[OneTimePrekey, ...] | list[OneTimePrekey], first_seq: int
) -> list[Doc]:
    return [
        {"device_id": device_id, "prekey_id": p.id, "public": p.public, "seq": first_seq + i}
        for i, p in enumerate(prekeys)
    ]


async def insert_device(engine: Any, account_id: str, new: NewDevice, now: int, session: Session) -> Device:
    """Insert a device and its first one-time prekeys (inside the caller's transaction, if any)."""
    spk = new.signed_prekey
    await engine["devices"].insert_one(
        {
            "_id": new.device_id,
            "account_id": account_id,
            "identity_key": new.identity_key,
            "spk_id": spk.id,
            "spk_public": spk.public,
            "spk_signature": spk.signature,
            "created_at": now,
            "revoked_at": None,
            "certificate": new.certificate,
        },
        session=session,
    )
    if new.one_time_prekeys:
        first = await next_prekey_seqs(engine["counters"], new.device_id, len(new.one_time_prekeys), session)
        await engine["one_time_prekeys"].insert_many(
            prekey_docs(new.device_id, new.one_time_prekeys, first), session=session
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
