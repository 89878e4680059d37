"""MongoDB stores for accounts, invitations and therapist<->client links."""

from __future__ import annotations

import contextlib
import dataclasses

from pymongo import ReturnDocument

from storage.errors import InvitationUnusable
from storage.mongodb import _docs
from storage.mongodb._engine import Engine, Session
from storage.mongodb.erasure import erase
from storage.records import Account, Invitation, Link, NewDevice, Role

__all__ = ["MongoAccountStore", "MongoInvitationStore", "MongoLinkStore"]


class MongoAccountStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "accounts", account_id)

    async def get_account(self, account_id: str) -> Account | None:
        async with self._engine.op():
            doc = await self._engine["accounts"].find_one({"_id": account_id})
        return None if doc is None else _docs.account(doc)

    async def count_accounts(self) -> int:
        async with self._engine.op():
            count: int = await self._engine["accounts"].count_documents({})
        return count

    async def set_account_disabled(self, account_id: str, disabled: bool) -> bool:
        async with self._engine.op():
            result = await self._engine["accounts"].update_one(
                {"_id": account_id}, {"$set": {"disabled": disabled}}
            )
        return bool(result.matched_count == 1)

    async def add_account_from_invitation(
        self, *, code_hash: bytes, account_id: str, device: NewDevice, now: int, account_key: bytes = b""
    ) -> tuple[Account, Invitation]:
        engine = self._engine

        async def redeem_invitation(s: Session) -> tuple[Account, Invitation]:
            found = await engine["invitations"].find_one(
                {"code_hash": code_hash, "used_at": None, "revoked_at": None, "expires_at": {"$gt": now}},
                session=s,
            )
            if found is None:
                raise InvitationUnusable()
            inviter_id = found.get("inviter_id")
            if inviter_id is not None:
                inviter = await engine["accounts"].find_one({"_id": inviter_id, "disabled": False}, session=s)
                if inviter is None:
                    raise InvitationUnusable()
            # The conditional update is the race guard: of two concurrent redemptions only one still
            # matches `used_at: null`; the other gets None.
            before = await engine["invitations"].find_one_and_update(
                {"_id": found["_id"], "used_at": None, "revoked_at": None},
                {"$set": {"used_at": now, "account_id": account_id}, "$unset": {"expire_on": ""}},
                return_document=ReturnDocument.BEFORE,
                session=s,
            )
            if before is None:
                raise InvitationUnusable()
            invitation = dataclasses.replace(_docs.invitation(before), used_at=now)
            try:
                await engine["accounts"].insert_one(
                    {
                        "_id": account_id,
                        "role": invitation.role.value,
                        "created_at": now,
                        "disabled": False,
                        "account_key": account_key,
                    },
                    session=s,
                )
                await _docs.insert_device(engine, account_id, device, now, s)
                if invitation.role is Role.CLIENT and invitation.inviter_id is not None:
                    await engine["links"].insert_one(
                        {
                            "therapist_id": invitation.inviter_id,
                            "client_id": account_id,
                            "created_at": now,
                            "label_ciphertext": invitation.label_ciphertext,
                        },
                        session=s,
                    )
            except BaseException:
                if s is None:  # no transaction to abort: undo by hand so that the code stays usable
                    await _undo_redemption(engine, found["_id"], account_id, device.device_id)
                raise
            account = Account(
                account_id=account_id,
                role=invitation.role,
                created_at=now,
                disabled=False,
                account_key=account_key,
            )
            return account, invitation

        return await engine.run(redeem_invitation)


async def _undo_redemption(engine: Engine, invitation_id: str, account_id: str, device_id: str) -> None:
    with contextlib.suppress(Exception):  # best effort: the database may be what failed
        await engine["links"].delete_many({"client_id": account_id})
        # Guarded by account_id: a device id that collided with someone else's device is left alone.
        removed = await engine["devices"].delete_one({"_id": device_id, "account_id": account_id})
        if removed.deleted_count == 1:
            await engine["one_time_prekeys"].delete_many({"device_id": device_id})
        await engine["accounts"].delete_one({"_id": account_id})
        await engine["invitations"].update_one(
            {"_id": invitation_id, "account_id": account_id},
            {"$set": {"used_at": None, "account_id": None}},
        )


class MongoInvitationStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "invitations", account_id)

    async def add_invitation(self, invitation: Invitation) -> None:
        async with self._engine.op():
            await self._engine["invitations"].insert_one(_docs.invitation_doc(invitation))

    async def get_invitation_by_code_hash(self, code_hash: bytes) -> Invitation | None:
        async with self._engine.op():
            doc = await self._engine["invitations"].find_one({"code_hash": code_hash})
        return None if doc is None else _docs.invitation(doc)

    async def get_invitations_by_inviter(self, inviter_id: str) -> list[Invitation]:
        async with self._engine.op():
            cursor = self._engine["invitations"].find({"inviter_id": inviter_id})
            docs = await cursor.sort([("created_at", 1), ("_id", 1)]).to_list(None)
        return [_docs.invitation(d) for d in docs]

    async def revoke_invitation(self, invitation_id: str, inviter_id: str, now: int) -> bool:
        async with self._engine.op():
            result = await self._engine["invitations"].update_one(
                {"_id": invitation_id, "inviter_id": inviter_id, "used_at": None, "revoked_at": None},
                {"$set": {"revoked_at": now}},
            )
        return bool(result.modified_count == 1)

    async def revoke_operator_invitations(self, role: Role, now: int) -> int:
        async with self._engine.op():
            result = await self._engine["invitations"].update_many(
                {"inviter_id": None, "role": role.value, "used_at": None, "revoked_at": None},
                {"$set": {"revoked_at": now}},
            )
        return int(result.modified_count)

    async def delete_expired_invitations(self, now: int) -> int:
        async with self._engine.op():
            result = await self._engine["invitations"].delete_many(
                {"used_at": None, "expires_at": {"$lte": now}}
            )
        return int(result.deleted_count)


class MongoLinkStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "links", account_id)

    async def delete_link(self, therapist_id: str, client_id: str) -> bool:
        async with self._engine.op():
            result = await self._engine["links"].delete_one(
                {"therapist_id": therapist_id, "client_id": client_id}
            )
        return bool(result.deleted_count == 1)

    async def get_link(self, therapist_id: str, client_id: str) -> Link | None:
        async with self._engine.op():
            doc = await self._engine["links"].find_one({"therapist_id": therapist_id, "client_id": client_id})
        return None if doc is None else _link(doc)

    async def get_links_of(self, account_id: str) -> list[Link]:
        async with self._engine.op():
            cursor = self._engine["links"].find(
                {"$or": [{"therapist_id": account_id}, {"client_id": account_id}]}
            )
            docs = await cursor.sort([("created_at", 1), ("_id", 1)]).to_list(None)
        return [_link(d) for d in docs]


def _link(doc: _docs.Doc) -> Link:
    return Link(
        therapist_id=doc["therapist_id"],
        client_id=doc["client_id"],
        created_at=doc["created_at"],
        label_ciphertext=_docs.opt_bytes(doc.get("label_ciphertext")),
    )
