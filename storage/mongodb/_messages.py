"""MongoDB stores for consent (terms + acceptances) and the per-device mailbox streams.

Stream positions. Each device has a ``counters`` document whose ``high`` is the highest position handed out
(or acknowledged). A reader must never see position p+1 before p is visible: a client that acknowledges p+1
would skip p for ever.

- With transactions, ``$inc`` on the counter and the insert commit together; a concurrent send to the same
  device conflicts on the counter document and is retried by ``with_transaction``, so positions become
  visible in order.
- Without transactions (standalone server, test double), a position is taken optimistically as
  ``max(highest stored, counter.high) + 1`` and claimed by inserting under the unique (device_id, pos)
  index; the loser of a race retries with the next one. An insert of p happens only after p-1 was seen, so
  positions become visible in order too. Acknowledging raises ``high`` before deleting, so a position is
  never handed out again once a client may have seen it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.errors import TermsVersionConflict
from storage.mongodb._docs import Doc
from storage.mongodb._engine import Engine, Session, expire_on
from storage.mongodb.erasure import erase
from storage.records import Consent, ConsentState, MailboxItem, NewEnvelope, NewSend, SendOutcome, Terms

__all__ = ["MongoConsentStore", "MongoMailboxStore"]

MAX_POSITION_ATTEMPTS = 64  # optimistic claims of one position; only reached under pathological contention


def _consent(d: Doc) -> Consent:
    return Consent(
        therapist_id=d["therapist_id"],
        client_id=d["client_id"],
        version=d["version"],
        terms_hash=bytes(d["terms_hash"]),
        signed_at=d["signed_at"],
        signature=bytes(d["signature"]),
        device_id=d["device_id"],
        accepted_at=d["accepted_at"],
    )


def _terms(d: Doc) -> Terms:
    return Terms(d["therapist_id"], d["version"], d["text"], bytes(d["terms_hash"]), d["published_at"])


class MongoConsentStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "consent", account_id)

    async def delete_unreferenced_terms(self) -> int:
        deleted = 0
        async with self._engine.op():
            cursor = self._engine["terms"].find({}, projection={"therapist_id": 1, "version": 1})
            terms = await cursor.to_list(None)
            newest: dict[str, int] = {}
            for t in terms:
                newest[t["therapist_id"]] = max(newest.get(t["therapist_id"], 0), int(t["version"]))
            for t in terms:
                if int(t["version"]) >= newest[t["therapist_id"]]:
                    continue
                named = {"therapist_id": t["therapist_id"], "version": t["version"]}
                if await self._engine["consents"].find_one(named) is None:
                    result = await self._engine["terms"].delete_one({"_id": t["_id"]})
                    deleted += int(result.deleted_count)
        return deleted

    async def add_terms(self, therapist_id: str, text: str, terms_hash: bytes, now: int) -> Terms:
        async with self._engine.op():
            current = await self._engine["terms"].find_one(
                {"therapist_id": therapist_id}, sort=[("version", DESCENDING)], projection={"version": 1}
            )
            version = (0 if current is None else int(current["version"])) + 1
            try:
                await self._engine["terms"].insert_one(
                    {
                        "therapist_id": therapist_id,
                        "version": version,
                        "text": text,
                        "terms_hash": terms_hash,
                        "published_at": now,
                    }
                )
            except DuplicateKeyError as exc:  # unique (therapist_id, version)
                raise TermsVersionConflict() from exc
        return Terms(therapist_id, version, text, terms_hash, now)

    async def get_terms(self, therapist_id: str) -> Terms | None:
        async with self._engine.op():
            doc = await self._engine["terms"].find_one(
                {"therapist_id": therapist_id}, sort=[("version", DESCENDING)]
            )
        return None if doc is None else _terms(doc)

    async def add_consent(self, consent: Consent) -> None:
        c = consent
        # Re-accepting the same version keeps the first proof: the duplicate insert is ignored.
        async with self._engine.op():
            with contextlib.suppress(DuplicateKeyError):
                await self._engine["consents"].insert_one(
                    {
                        "therapist_id": c.therapist_id,
                        "client_id": c.client_id,
                        "version": c.version,
                        "terms_hash": c.terms_hash,
                        "signed_at": c.signed_at,
                        "signature": c.signature,
                        "device_id": c.device_id,
                        "accepted_at": c.accepted_at,
                    }
                )

    async def get_consent_state(self, therapist_id: str, client_id: str) -> ConsentState:
        async with self._engine.op():
            terms = await self._engine["terms"].find_one(
                {"therapist_id": therapist_id}, sort=[("version", DESCENDING)], projection={"version": 1}
            )
            consent = await self._engine["consents"].find_one(
                {"therapist_id": therapist_id, "client_id": client_id},
                sort=[("version", DESCENDING)],
                projection={"version": 1},
            )
        return ConsentState(
            current_version=0 if terms is None else int(terms["version"]),
            accepted_version=0 if consent is None else int(consent["version"]),
        )

    async def get_consents_of(self, account_id: str) -> list[Consent]:
        async with self._engine.op():
            cursor = self._engine["consents"].find(
                {"$or": [{"therapist_id": account_id}, {"client_id": account_id}]}
            )
            docs = await cursor.to_list(None)
        newest: dict[tuple[str, str], Consent] = {}
        for consent in map(_consent, docs):
            pair = (consent.therapist_id, consent.client_id)
            held = newest.get(pair)
            if held is None or consent.version > held.version:
                newest[pair] = consent
        return sorted(newest.values(), key=lambda c: c.accepted_at)


class MongoMailboxStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "mailbox", account_id)

    async def delete_sends_before(self, cutoff: int) -> int:
        async with self._engine.op():
            # Only completed records: a "pending" one is a send being stored right now (no transactions).
            result = await self._engine["sends"].delete_many(
                {"accepted_at": {"$lt": cutoff}, "state": "stored"}
            )
        return int(result.deleted_count)

    async def add_send(
        self, send: NewSend, *, on_commit: Callable[[SendOutcome], object] | None = None
    ) -> SendOutcome:
        engine = self._engine
        s = send
        key = {"from_device": s.from_device, "message_id": s.message_id}

        async def store_send(session: Session) -> SendOutcome:
            # The unique (from_device, message_id) index makes a retry find the original record.
            # Without a transaction the record is "pending" until every envelope is stored, so a retry
            # after a crash completes the send instead of reporting a duplicate of something half stored.
            record = await engine["sends"].find_one_and_update(
                key,
                {
                    "$setOnInsert": {
                        "accepted_at": s.sent_at,
                        "expires_at": s.expires_at,
                        "expire_on": expire_on(s.expires_at),
                        "state": "pending",
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            accepted_at = int(record["accepted_at"])
            if record.get("state") == "stored":
                return SendOutcome(accepted_at=accepted_at, duplicate=True, positions={})
            positions = {}
            for env in s.envelopes:
                positions[env.to_device] = await self._store_item(s, env, session)
            await engine["sends"].update_one(key, {"$set": {"state": "stored"}}, session=session)
            return SendOutcome(accepted_at=accepted_at, duplicate=False, positions=positions)

        try:
            outcome = await engine.run(store_send)
        except DuplicateKeyError:
            # Two first attempts of the same send raced on the upsert; the loser retries once and
            # then sees the winner's record.
            outcome = await engine.run(store_send)
        if on_commit is not None:  # no commit order to keep: the tail cache is off with MongoDB
            on_commit(outcome)
        return outcome

    async def _store_item(self, s: NewSend, env: NewEnvelope, session: Session) -> int:
        mailbox = self._engine["mailbox"]
        counters = self._engine["counters"]
        item: Doc = {
            "device_id": env.to_device,
            "message_id": s.message_id,
            "from_account": s.from_account,
            "from_device": s.from_device,
            "type": env.type,
            "ciphertext": env.ciphertext,
            "sent_at": s.sent_at,
            "expires_at": s.expires_at,
            "expire_on": expire_on(s.expires_at),
        }
        if session is not None:
            counter = await counters.find_one_and_update(
                {"_id": env.to_device},
                {"$inc": {"high": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            item["pos"] = int(counter["high"])
            await mailbox.insert_one(item, session=session)
            return int(item["pos"])
        existing = await _stored_position(mailbox, s, env)
        if existing is not None:  # stored by an earlier attempt of this send
            return existing
        for _ in range(MAX_POSITION_ATTEMPTS):
            top = await mailbox.find_one(
                {"device_id": env.to_device}, sort=[("pos", DESCENDING)], projection={"pos": 1}
            )
            counter = await counters.find_one({"_id": env.to_device}, projection={"high": 1})
            pos = max(0 if top is None else int(top["pos"]), int((counter or {}).get("high", 0))) + 1
            item["pos"] = pos
            item.pop("_id", None)
            try:
                await mailbox.insert_one(item)
            except DuplicateKeyError:
                existing = await _stored_position(mailbox, s, env)
                if existing is not None:  # a concurrent attempt of the same send stored it
                    return existing
                continue  # another send took this position first: take the next one
            await counters.update_one({"_id": env.to_device}, {"$max": {"high": pos}}, upsert=True)
            return pos
        raise RuntimeError(f"no mailbox position after {MAX_POSITION_ATTEMPTS} attempts")

    async def get_send(self, from_device: str, message_id: str) -> SendOutcome | None:
        async with self._engine.op():
            doc = await self._engine["sends"].find_one(
                {"from_device": from_device, "message_id": message_id, "state": "stored"}
            )
        return (
            None if doc is None else SendOutcome(accepted_at=doc["accepted_at"], duplicate=True, positions={})
        )

    async def get_items(self, device_id: str, after: int, limit: int, now: int) -> list[MailboxItem]:
        async with self._engine.op():
            cursor = self._engine["mailbox"].find(
                {"device_id": device_id, "pos": {"$gt": after}, "expires_at": {"$gt": now}}
            )
            docs = await cursor.sort([("pos", ASCENDING)]).limit(limit).to_list(None)
        return [
            MailboxItem(
                pos=d["pos"],
                message_id=d["message_id"],
                from_account=d["from_account"],
                from_device=d["from_device"],
                type=d["type"],
                ciphertext=bytes(d["ciphertext"]),
                sent_at=d["sent_at"],
                expires_at=d["expires_at"],
            )
            for d in docs
        ]

    async def delete_items(self, device_id: str, up_to: int) -> int:
        mailbox = self._engine["mailbox"]
        async with self._engine.op():
            # Raise the counter to the highest position being deleted BEFORE deleting, so that the
            # optimistic allocator (no transactions) never hands out a position a client has seen.
            top = await mailbox.find_one(
                {"device_id": device_id, "pos": {"$lte": up_to}},
                sort=[("pos", DESCENDING)],
                projection={"pos": 1},
            )
            if top is None:
                return 0
            await self._engine["counters"].update_one(
                {"_id": device_id}, {"$max": {"high": int(top["pos"])}}, upsert=True
            )
            result = await mailbox.delete_many({"device_id": device_id, "pos": {"$lte": up_to}})
        return int(result.deleted_count)

    async def delete_expired_items(self, now: int) -> int:
        async with self._engine.op():
            result = await self._engine["mailbox"].delete_many({"expires_at": {"$lte": now}})
            await self._engine["sends"].delete_many({"expires_at": {"$lte": now}})
        return int(result.deleted_count)


async def _stored_position(mailbox: Any, s: NewSend, env: NewEnvelope) -> int | None:
    doc = await mailbox.find_one(
        {"device_id": env.to_device, "from_device": s.from_device, "message_id": s.message_id},
        projection={"pos": 1},
    )
    return None if doc is None else int(doc["pos"])
