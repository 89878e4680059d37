"""``SqliteStorage``: the embedded default backend (one file, WAL, group commit).

Every store of the ``Storage`` port is built here on the one engine; ``open`` brings the file to the newest
schema version first (storage/sqlite/schema.py), so a store never creates a table itself.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.errors import StorageUnavailable
from storage.sqlite._accounts import SqliteAccountStore, SqliteInvitationStore, SqliteLinkStore
from storage.sqlite._devices import (
    SqliteChallengeStore,
    SqliteDeviceStore,
    SqlitePrekeyStore,
    SqliteTokenStore,
)
from storage.sqlite._engine import Engine
from storage.sqlite._messages import SqliteConsentStore, SqliteMailboxStore
from storage.sqlite.appointments import SqliteAppointmentStore
from storage.sqlite.audit import SqliteAuditStore
from storage.sqlite.blobs import BLOB_DIRECTORY, SqliteBlobStore
from storage.sqlite.custodian import SqliteCustodianStore
from storage.sqlite.erasure import SqliteErasureStore
from storage.sqlite.ops import SqliteOpsStore
from storage.sqlite.practice import SqlitePracticeStore
from storage.sqlite.schema import migrate
from storage.sqlite.send_facts import SqliteSendFactsStore
from storage.sqlite.vault import SqliteVaultStore

__all__ = ["DATABASE_FILE", "SqliteStorage"]

DATABASE_FILE = "confidant.sqlite3"


class SqliteStorage:
    """Open with ``SqliteStorage.open(data_dir)``; close with ``await storage.close()``."""

    def __init__(self, engine: Engine, blob_directory: Path | None = None) -> None:
        self.engine = engine
        self.accounts = SqliteAccountStore(engine)
        self.invitations = SqliteInvitationStore(engine)
        self.links = SqliteLinkStore(engine)
        self.devices = SqliteDeviceStore(engine)
        self.prekeys = SqlitePrekeyStore(engine)
        self.challenges = SqliteChallengeStore(engine)
        self.tokens = SqliteTokenStore(engine)
        self.consent = SqliteConsentStore(engine)
        self.mailbox = SqliteMailboxStore(engine)
        self.send_facts = SqliteSendFactsStore(engine)
        self.appointments = SqliteAppointmentStore(engine)
        self.audit = SqliteAuditStore(engine)
        self.ops = SqliteOpsStore(engine)
        self.erasure = SqliteErasureStore(engine)
        # Blob bytes are files next to the database (``open`` clears partial uploads a crash left behind).
        self.blobs = SqliteBlobStore(engine, blob_directory or engine.path.parent / BLOB_DIRECTORY)
        self.vault = SqliteVaultStore(engine)
        self.practice = SqlitePracticeStore(engine)
        self.custodian = SqliteCustodianStore(engine)

    @classmethod
    def open(cls, data_dir: Path) -> SqliteStorage:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            engine = Engine(data_dir / DATABASE_FILE)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open the database in {data_dir}: {exc}") from exc
        try:
            migrate(engine.writer_connection)
        except sqlite3.Error as exc:
            engine.close_sync()
            raise StorageUnavailable(f"cannot migrate the database in {data_dir}: {exc}") from exc
        except BaseException:
            engine.close_sync()
            raise
        storage = cls(engine, data_dir / BLOB_DIRECTORY)
        try:
            storage.blobs.remove_leftovers()
        except OSError as exc:
            engine.close_sync()
            raise StorageUnavailable(f"cannot prepare the blob directory in {data_dir}: {exc}") from exc
        engine.start()
        return storage

    async def ping(self) -> None:
        def read(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT 1").fetchone()

        await self.engine.read(read)

    async def put_heartbeat(self, now: int) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO heartbeat (id, at) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                (now,),
            )

        await self.engine.write(write, rerunnable=True)

    async def close(self) -> None:
        await self.engine.close()
