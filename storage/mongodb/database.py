"""``MongoStorage``: the scale-out backend (MongoDB via PyMongo's asyncio API, ``AsyncMongoClient``).

Selected by ``--mongodb-uri`` / ``CONFIDANT_MONGODB_URI``. Use a replica set in production: it gives
multi-document transactions and majority write concern (an acknowledged send survives the loss of the
primary). A standalone server works, with the no-transaction strategy described in ``_engine``.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo import AsyncMongoClient

from storage.errors import PROTOCOL_V1_REFUSED, ProtocolVersionRefused
from storage.mongodb._accounts import MongoAccountStore, MongoInvitationStore, MongoLinkStore
from storage.mongodb._devices import MongoChallengeStore, MongoDeviceStore, MongoPrekeyStore, MongoTokenStore
from storage.mongodb._engine import Engine
from storage.mongodb._messages import MongoConsentStore, MongoMailboxStore
from storage.mongodb.appointments import MongoAppointmentStore
from storage.mongodb.audit import MongoAuditStore
from storage.mongodb.blobs import MongoBlobStore
from storage.mongodb.custodian import MongoCustodianStore
from storage.mongodb.erasure import MongoErasureStore
from storage.mongodb.ops import MongoOpsStore
from storage.mongodb.practice import MongoPracticeStore
from storage.mongodb.schema import create_indexes
from storage.mongodb.vault import MongoVaultStore
from storage.send_facts import ComposedSendFactsStore

__all__ = ["DEFAULT_DATABASE", "MongoStorage"]

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "confidant"
SERVER_SELECTION_TIMEOUT_MS = (
    5000  # how long a request waits for a reachable primary before storage_unavailable
)


async def _on_start(engine: Engine) -> None:
    # Protocol version 1 devices carry no certificate field; there is no migration (docs/API.md, Start-up).
    if await engine["devices"].find_one({"certificate": None}) is not None:
        raise ProtocolVersionRefused(PROTOCOL_V1_REFUSED)
    await create_indexes(engine)
    log.info(
        "mongodb storage ready (database %s, %s)",
        engine.database_name,
        "transactions, majority writes" if engine.transactions else "standalone: no transactions",
    )


class MongoStorage:
    """Open with ``await MongoStorage.open(uri)``; close with ``await storage.close()``."""

    def __init__(self, engine: Engine, *, blob_bucket: Any | None = None) -> None:
        self.engine = engine
        self.accounts = MongoAccountStore(engine)
        self.invitations = MongoInvitationStore(engine)
        self.links = MongoLinkStore(engine)
        self.devices = MongoDeviceStore(engine)
        self.prekeys = MongoPrekeyStore(engine)
        self.challenges = MongoChallengeStore(engine)
        self.tokens = MongoTokenStore(engine)
        self.consent = MongoConsentStore(engine)
        self.mailbox = MongoMailboxStore(engine)
        # No single-call read on MongoDB: the ordinary reads, issued together.
        self.send_facts = ComposedSendFactsStore(self.accounts, self.links, self.consent, self.devices)
        self.appointments = MongoAppointmentStore(engine)
        self.audit = MongoAuditStore(engine)
        self.ops = MongoOpsStore(engine)
        self.erasure = MongoErasureStore(engine)
        self.blobs = MongoBlobStore(engine, bucket=blob_bucket)  # bytes in GridFS, bucket "blobs"
        self.vault = MongoVaultStore(engine)
        self.practice = MongoPracticeStore(engine)
        self.custodian = MongoCustodianStore(engine)

    @classmethod
    def connect(
        cls,
        uri: str,
        *,
        client: Any | None = None,
        database: str | None = None,
        blob_bucket: Any | None = None,
    ) -> MongoStorage:
        """Build without I/O (the composition root is synchronous). The first operation asks the server
        whether it has transactions and creates the indexes; StorageUnavailable until a server answers.

        ``client`` replaces ``AsyncMongoClient(uri)`` and ``blob_bucket`` the GridFS bucket of the blob store
        (tests pass the in-process test doubles: GridFS refuses anything but a real database).
        """
        if client is None:
            client = AsyncMongoClient(
                uri,
                serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
                tz_aware=False,
                retryWrites=True,
                appname="confidant",
            )
            # The database named in the URI path, else "confidant".
            database = database or client.get_default_database(DEFAULT_DATABASE).name
        return cls(Engine(client, database or DEFAULT_DATABASE, on_start=_on_start), blob_bucket=blob_bucket)

    @classmethod
    async def open(
        cls,
        uri: str,
        *,
        client: Any | None = None,
        database: str | None = None,
        blob_bucket: Any | None = None,
    ) -> MongoStorage:
        """``connect`` and start now: raises StorageUnavailable if no server answers."""
        storage = cls.connect(uri, client=client, database=database, blob_bucket=blob_bucket)
        try:
            await storage.engine.start()
        except BaseException:
            await storage.close()
            raise
        return storage

    @property
    def transactions(self) -> bool:
        return self.engine.transactions

    async def ping(self) -> None:
        await self.engine.ping()

    async def put_heartbeat(self, now: int) -> None:
        # One document, majority write concern like every other write: without a primary (or a majority of
        # the replica set) this fails or hangs, and readiness times out.
        async with self.engine.op():
            heartbeat = self.engine["heartbeat"]
            await heartbeat.update_one({"_id": "readiness"}, {"$set": {"at": now}}, upsert=True)

    async def close(self) -> None:
        await self.engine.close()
