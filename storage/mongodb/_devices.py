"""MongoDB stores for devices, one-time prekeys, login challenges and bearer tokens."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from storage.errors import DeviceLimitReached, LinkCodeUnusable, PrekeyIdConflict, PrekeyLimitReached
from storage.mongodb import _docs
from storage.mongodb._engine import Engine, Session, expire_on
from storage.mongodb.erasure import erase
from storage.records import Bundle, Device, NewDevice, OneTimePrekey, SignedPrekey, TokenRecord

__all__ = ["MongoChallengeStore", "MongoDeviceStore", "MongoPrekeyStore", "MongoTokenStore"]


class MongoDeviceStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "devices", account_id)

    async def get_device(self, device_id: str) -> Device | None:
        async with self._engine.op():
            doc = await self._engine["devices"].find_one({"_id": device_id})
        return None if doc is None else _docs.device(doc)

    async def get_devices(self, account_ids: Sequence[str]) -> list[Device]:
        ids = list(dict.fromkeys(account_ids))
        if not ids:
            return []
        async with self._engine.op():
            cursor = self._engine["devices"].find({"account_id": {"$in": ids}})
            docs = await cursor.sort([("created_at", ASCENDING), ("_id", ASCENDING)]).to_list(None)
        return [_docs.device(d) for d in docs]

    async def add_link_code(self, code_hash: bytes, account_id: str, expires_at: int) -> None:
        async with self._engine.op():
            await self._engine["link_codes"].insert_one(
                {
                    "_id": code_hash,
                    "account_id": account_id,
                    "expires_at": expires_at,
                    "expire_on": expire_on(expires_at),
                }
            )

    async def add_device_with_link_code(
        self, *, code_hash: bytes, device: NewDevice, max_devices: int, now: int
    ) -> Device:
        engine = self._engine

        async def link_device(s: Session) -> Device:
            code = await engine["link_codes"].find_one(
                {"_id": code_hash, "expires_at": {"$gt": now}}, session=s
            )
            if code is None:
                raise LinkCodeUnusable()
            account_id: str = code["account_id"]
            if await engine["accounts"].find_one({"_id": account_id, "disabled": False}, session=s) is None:
                raise LinkCodeUnusable()
            active = await engine["devices"].count_documents(
                {"account_id": account_id, "revoked_at": None}, session=s
            )
            if active >= max_devices:
                raise DeviceLimitReached()  # the code is left unused
            # Deleting the code is the race guard: of two concurrent uses only one deletes it.
            if await engine["link_codes"].find_one_and_delete({"_id": code_hash}, session=s) is None:
                raise LinkCodeUnusable()
            try:
                return await _docs.insert_device(engine, account_id, device, now, s)
            except BaseException:
                if s is None:  # no transaction: put the code back so the user can retry
                    await _restore_link_code(engine, code, device.device_id)
                raise

        return await engine.run(link_device)

    async def revoke_device(self, device_id: str, now: int) -> bool:
        engine = self._engine

        async def revoke(s: Session) -> bool:
            if await engine["devices"].find_one({"_id": device_id, "revoked_at": None}, session=s) is None:
                return False
            # Without a transaction the secrets go first: a crash midway leaves an active device with fewer
            # tokens (the user logs in again), never a revoked device whose tokens still work.
            for name in ("tokens", "challenges", "one_time_prekeys", "mailbox"):
                await engine[name].delete_many({"device_id": device_id}, session=s)
            result = await engine["devices"].update_one(
                {"_id": device_id, "revoked_at": None}, {"$set": {"revoked_at": now}}, session=s
            )
            return bool(result.modified_count == 1)

        return await engine.run(revoke)

    async def set_signed_prekey(self, device_id: str, prekey: SignedPrekey) -> None:
        async with self._engine.op():
            await self._engine["devices"].update_one(
                {"_id": device_id},
                {
                    "$set": {
                        "spk_id": prekey.id,
                        "spk_public": prekey.public,
                        "spk_signature": prekey.signature,
                    }
                },
            )

    async def delete_expired_link_codes(self, now: int) -> int:
        async with self._engine.op():
            result = await self._engine["link_codes"].delete_many({"expires_at": {"$lte": now}})
        return int(result.deleted_count)


async def _restore_link_code(engine: Engine, code: _docs.Doc, device_id: str) -> None:
    try:
        removed = await engine["devices"].delete_one({"_id": device_id, "account_id": code["account_id"]})
        if removed.deleted_count == 1:
            await engine["one_time_prekeys"].delete_many({"device_id": device_id})
        await engine["link_codes"].insert_one(code)
    except Exception:  # best effort: the database may be what failed
        pass


class MongoPrekeyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "prekeys", account_id)

    async def add_one_time_prekeys(
        self, device_id: str, prekeys: Sequence[OneTimePrekey], max_stored: int
    ) -> int:
        engine = self._engine
        batch = list(prekeys)
        ids = [p.id for p in batch]

        async def add_prekeys(s: Session) -> int:
            count: int = await engine["one_time_prekeys"].count_documents({"device_id": device_id}, session=s)
            if count + len(batch) > max_stored:
                raise PrekeyLimitReached()
            if len(set(ids)) != len(ids) or await engine["one_time_prekeys"].find_one(
                {"device_id": device_id, "prekey_id": {"$in": ids}}, session=s
            ):
                raise PrekeyIdConflict()
            if not batch:
                return count
            first = await _docs.next_prekey_seqs(engine["counters"], device_id, len(batch), s)
            docs = _docs.prekey_docs(device_id, batch, first)
            try:
                await engine["one_time_prekeys"].insert_many(docs, session=s)
            except (
                DuplicateKeyError,
                BulkWriteError,
            ) as exc:  # unique (device_id, prekey_id): a racing upload
                if s is None:  # all or none: remove what this call inserted
                    await engine["one_time_prekeys"].delete_many(
                        {"device_id": device_id, "seq": {"$gte": first, "$lt": first + len(batch)}}
                    )
                raise PrekeyIdConflict() from exc
            return count + len(batch)

        return await engine.run(add_prekeys)

    async def count_one_time_prekeys(self, device_id: str) -> int:
        async with self._engine.op():
            count: int = await self._engine["one_time_prekeys"].count_documents({"device_id": device_id})
        return count

    async def get_one_time_prekey_ids(self, device_id: str) -> list[int]:
        async with self._engine.op():
            cursor = self._engine["one_time_prekeys"].find({"device_id": device_id}).sort("seq", ASCENDING)
            docs = await cursor.to_list(None)
        return [int(d["prekey_id"]) for d in docs]

    async def claim_bundles(self, device_ids: Sequence[str]) -> list[Bundle]:
        ids = list(dict.fromkeys(device_ids))
        engine = self._engine
        bundles = []
        async with self._engine.op():
            for device_id in ids:
                doc = await engine["devices"].find_one({"_id": device_id, "revoked_at": None})
                if doc is None:
                    continue
                device = _docs.device(doc)
                # find_one_and_delete is atomic on one document: two concurrent claims never get the same
                # key, and sorting on seq hands out the oldest first. No transaction needed.
                otk = await engine["one_time_prekeys"].find_one_and_delete(
                    {"device_id": device_id}, sort=[("seq", ASCENDING)]
                )
                remaining: int = await engine["one_time_prekeys"].count_documents({"device_id": device_id})
                bundles.append(
                    Bundle(
                        device_id=device_id,
                        identity_key=device.identity_key,
                        signed_prekey=device.signed_prekey,
                        one_time_prekey=None
                        if otk is None
                        else OneTimePrekey(otk["prekey_id"], bytes(otk["public"])),
                        remaining=remaining,
                        certificate=device.certificate,
                    )
                )
        return bundles


class MongoChallengeStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "challenges", account_id)

    async def add_challenge(self, nonce: bytes, device_id: str, expires_at: int) -> None:
        async with self._engine.op():
            await self._engine["challenges"].insert_one(
                {
                    "_id": nonce,
                    "device_id": device_id,
                    "expires_at": expires_at,
                    "expire_on": expire_on(expires_at),
                }
            )

    async def take_challenge(self, nonce: bytes, device_id: str, now: int) -> bool:
        async with self._engine.op():
            # Deleted whatever the outcome: a nonce is never usable twice.
            doc = await self._engine["challenges"].find_one_and_delete({"_id": nonce})
        return doc is not None and doc["device_id"] == device_id and doc["expires_at"] > now

    async def delete_expired_challenges(self, now: int) -> int:
        async with self._engine.op():
            result = await self._engine["challenges"].delete_many({"expires_at": {"$lte": now}})
        return int(result.deleted_count)


class MongoTokenStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "tokens", account_id)

    async def add_token(self, token_hash: bytes, record: TokenRecord) -> None:
        async with self._engine.op():
            await self._engine["tokens"].insert_one(
                {
                    "_id": token_hash,
                    "device_id": record.device_id,
                    "account_id": record.account_id,
                    "expires_at": record.expires_at,
                    "expire_on": expire_on(record.expires_at),
                }
            )

    async def get_token(self, token_hash: bytes) -> TokenRecord | None:
        async with self._engine.op():
            doc = await self._engine["tokens"].find_one({"_id": token_hash})
        return None if doc is None else TokenRecord(doc["device_id"], doc["account_id"], doc["expires_at"])

    async def delete_token(self, token_hash: bytes) -> bool:
        async with self._engine.op():
            result = await self._engine["tokens"].delete_one({"_id": token_hash})
        return bool(result.deleted_count == 1)

    async def delete_expired_tokens(self, now: int) -> int:
        async with self._engine.op():
            result = await self._engine["tokens"].delete_many({"expires_at": {"$lte": now}})
        return int(result.deleted_count)
