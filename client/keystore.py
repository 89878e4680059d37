"""The device keystore: an encrypted SQLite file holding one AEAD-sealed row per record.

File layout (SQLite, WAL journal):

    meta(name TEXT PRIMARY KEY, value BLOB)
        "format" = "confidant-keystore", "v" = 2,
        "wrapped_key" = crypto.keywrap blob (Argon2id from the passphrase) of the 32-byte storage key
    records(kind TEXT, name BLOB, seq INTEGER, sealed BLOB, PRIMARY KEY (kind, name))
        kind    the record kind's name, in clear: the file shows how many sessions, queued messages... it
                holds, not whose or what
        name    keyed BLAKE2b-128 of the record's key (a peer device id, a message id) under the name key,
                so the file does not list peers or message ids
        seq     insertion order within the kind (ordered kinds hand their records back in this order)
        sealed  nonce (24) || XChaCha20-Poly1305(seal key, nonce, JSON {"k": key, "v": value},
                                                 ad = "confidant-keystore-v2" || kind || 0x00 || name)
                a row copied under another kind or key does not open

The seal and name keys are HKDF-SHA256 of the storage key (info "confidant-keystore-v2 seal" / "... name").
The passphrase is stretched once per open; a write seals only the records that changed, so handing over,
acknowledging and saving cost O(1) per record, and every write runs on one writer thread (the event loop
never waits on the disk). A single row can be rolled back to an older sealed value by someone who can write
the file; the file is not a defence against that (nor was the previous whole-file format against a full
rollback).

A keystore is locked while open (``flock`` on the sidecar ``<file>.lock``): a second open, from this or any
other process, raises :class:`KeystoreLocked` instead of two instances overwriting each other's state.

Adding a record kind (the whole API):

    ACCOUNT_KEYS = RecordKind("account_key")           # a new, stable name; ordered=True for a queue
    table = keystore.table(ACCOUNT_KEYS)               # a MutableMapping[str, JSON value]
    table[account_id] = {"key": b64, "pinned_at": ms}  # staged in memory
    await keystore.commit()                            # one transaction, fsynced (durable=False: not)

Values are anything ``json.dumps`` takes (or objects the kind's ``encode`` / ``decode`` turn into that).
Records of kinds this version does not know are kept untouched, so an older SDK does not destroy them.
Mutating a value in place is NOT seen: assign it again (``table[k] = v``) to stage the change.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import json
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from client import _keywrap
from client.errors import KeystoreError
from crypto import primitives

__all__ = ["Keystore", "KeystoreLocked", "RecordKind", "Table"]

FORMAT = "confidant-keystore"
VERSION = 2
_AD = b"confidant-keystore-v2"
_NAME_SIZE = 16

V = TypeVar("V")
T = TypeVar("T")


def _same(value: Any) -> Any:
    return value


class KeystoreLocked(KeystoreError):
    """The keystore is already open, in this process or another one."""


@dataclass(frozen=True)
class RecordKind(Generic[V]):
    """A kind of record: its stable ``name`` (stored in clear), whether it is a queue (``ordered``), and how a
    value becomes JSON (``encode``) and back (``decode``)."""

    name: str
    ordered: bool = False
    encode: Callable[[V], Any] = field(default=_same, compare=False)
    decode: Callable[[Any], V] = field(default=_same, compare=False)


class Table(MutableMapping[str, V]):
    """The records of one kind, in memory; assignments and deletions are staged for the next commit.

    Ordered kinds iterate in insertion order (``first()`` is O(1)); others in load order."""

    def __init__(self, keystore: Keystore, kind: RecordKind[V]) -> None:
        self._ks = keystore
        self.kind = kind
        self._rows: OrderedDict[str, V] = OrderedDict()
        self._seq: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Table({self.kind.name}, {len(self._rows)} records)"

    def __getitem__(self, key: str) -> V:
        return self._rows[key]

    def __setitem__(self, key: str, value: V) -> None:
        if key not in self._rows:
            self._seq[key] = self._ks._next_seq()
        self._rows[key] = value
        self._ks._stage(self, key)

    def __delitem__(self, key: str) -> None:
        del self._rows[key]
        self._seq.pop(key, None)
        self._ks._stage(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    @overload
    def get(self, key: str, /) -> V | None: ...
    @overload
    def get(self, key: str, /, default: V | T) -> V | T: ...
    def get(self, key: str, /, default: Any = None) -> Any:
        # MutableMapping's get goes through __getitem__ and a KeyError: this is on every decrypted message
        return self._rows.get(key, default)

    def first(self) -> tuple[str, V] | None:
        """The oldest record (ordered kinds), in O(1)."""
        for key, value in self._rows.items():
            return key, value
        return None

    def pop_first(self) -> tuple[str, V] | None:
        if not self._rows:
            return None
        key, value = self._rows.popitem(last=False)
        self._seq.pop(key, None)
        self._ks._stage(self, key)
        return key, value

    def seq(self, key: str) -> int:
        """The record's sequence number: its place in the order records were first staged (compare with
        ``Keystore.durable_seq``)."""
        return self._seq[key]

    def append(self, value: V) -> str:
        """Add a record under a fresh key (queues without a natural key); returns the key."""
        key = f"{self._ks._peek_seq():020d}"
        self[key] = value
        return key

    def _load(self, key: str, seq: int, value: V) -> None:
        self._rows[key] = value
        self._seq[key] = seq

    def _row(self, key: str) -> tuple[int, bytes] | None:
        if key not in self._rows:
            return None
        doc = {"k": key, "v": self.kind.encode(self._rows[key])}
        return self._seq[key], json.dumps(doc, separators=(",", ":")).encode()


# (kind, key, name, seq, plaintext) to write, or (kind, key, name, None, None) to delete
_Row = tuple[str, str, bytes, int | None, bytes | None]


class Keystore:
    """An open keystore: the records in memory, the file behind them, the lock held until ``close``.

    ``create`` and ``open`` block (Argon2id, reading every record): call them from a thread."""

    def __init__(self, path: Path, conn: sqlite3.Connection, storage_key: bytes, lock_fd: int | None) -> None:
        self.path = path
        self._conn = conn
        self._seal_key = primitives.hkdf_sha256(storage_key, b"", _AD + b" seal", primitives.AEAD_KEY_SIZE)
        self._name_key = primitives.hkdf_sha256(storage_key, b"", _AD + b" name", 32)
        self._lock_fd = lock_fd
        self._tables: dict[str, Table[Any]] = {}
        self._dirty: dict[tuple[str, str], Table[Any]] = {}
        self._seq = 0
        self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="confidant-keystore")
        self._last_write: asyncio.Future[None] | None = None
        self._loaded: dict[str, list[tuple[str, int, Any]]] = {}  # kinds nobody asked for stay on disk as is
        self._flush_task: asyncio.Task[None] | None = None
        self._closed = False
        self._durable_seq = 0  # see durable_seq
        self._failures = 0  # writes that failed (and were staged again)
        self._unsynced = False  # the last write handed to the writer was not durable (commit_soon)
        self._before_write: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"Keystore({self.path.name}, key=<hidden>)"

    # -- opening and closing -------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path | str, passphrase: str, *, kdf: str = "interactive") -> Keystore:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock(path)
        try:
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                raise KeystoreError("a keystore already exists at this path") from None
            key = primitives.random_bytes(primitives.AEAD_KEY_SIZE)
            wrapped = _keywrap.wrap(passphrase, key, kdf)
            return cls(path, new_file(path, wrapped), key, lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise

    @classmethod
    def open(cls, path: Path | str, passphrase: str) -> Keystore:
        path = Path(path)
        if not path.exists():
            raise KeystoreError("no keystore at this path")
        lock_fd = _lock(path)
        try:
            with path.open("rb") as f:
                v1 = f.read(1) == b"{"
            if v1:
                from client._keystore_v1 import migrate

                migrate(path, passphrase)
            try:
                conn = _connect(path)
                meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
            except sqlite3.DatabaseError:
                raise KeystoreError("the keystore file is corrupt") from None
            if meta.get("format") != FORMAT or meta.get("v") != VERSION:
                conn.close()
                raise KeystoreError("not a Confidant keystore, or an unsupported version")
            key = _keywrap.unwrap(passphrase, str(meta["wrapped_key"]))
            ks = cls(path, conn, key, lock_fd)
            ks._load_all()
            ks._durable_seq = ks._seq  # what was read back from the file
            return ks
        except BaseException:
            os.close(lock_fd)
            raise

    def _load_all(self) -> None:
        for kind, name, seq, sealed in self._conn.execute("SELECT kind, name, seq, sealed FROM records"):
            doc = json.loads(self._open(kind, bytes(name), bytes(sealed)))
            self._loaded.setdefault(kind, []).append((doc["k"], int(seq), doc["v"]))
            self._seq = max(self._seq, int(seq))
        for rows in self._loaded.values():
            rows.sort(key=lambda r: r[1])

    async def close(self) -> None:
        """Write what is staged, close the file and release the lock."""
        if self._closed:
            return
        try:
            await self.commit()
        finally:
            self._closed = True
            if self._flush_task is not None:
                self._flush_task.cancel()
            await asyncio.get_running_loop().run_in_executor(self._writer, self._conn.close)
            self._writer.shutdown(wait=True)
            self._unlock()

    def close_now(self) -> None:
        """Synchronous close for error paths before anything was staged (no event loop needed)."""
        if not self._closed:
            self._closed = True
            self._writer.shutdown(wait=True)
            self._conn.close()
            self._unlock()

    def remove_files(self) -> None:
        """Delete a closed keystore's files (a creation that failed before anything worth keeping)."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- records ---------------------------------------------------------------------------------------------

    def table(self, kind: RecordKind[V]) -> Table[V]:
        """The records of ``kind`` (loaded at open); the same object on every call."""
        existing = self._tables.get(kind.name)
        if existing is not None:
            if existing.kind != kind:
                raise KeystoreError(f"record kind {kind.name!r} declared twice differently")
            return existing
        table: Table[V] = Table(self, kind)
        for key, seq, value in self._loaded.pop(kind.name, []):
            table._load(key, seq, kind.decode(value))
        self._tables[kind.name] = table
        return table

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _peek_seq(self) -> int:
        return self._seq + 1

    def before_write(self, stage: Callable[[], None]) -> None:
        """Call ``stage`` right before each write takes the staged changes: an owner of records that change
        often (a session per decrypted message) stages their newest value once per write, not per change."""
        self._before_write.append(stage)

    def _stage(self, table: Table[Any], key: str) -> None:
        if self._closed:
            raise KeystoreError("the keystore is closed")
        self._dirty[(table.kind.name, key)] = table

    @property
    def pending(self) -> int:
        """Records changed in memory and not yet handed to the writer."""
        return len(self._dirty)

    async def commit(self, durable: bool = True) -> None:
        """Write every staged change in one transaction; returns when it (and every earlier write) is on disk.

        ``durable``: fsync before returning (what an acknowledgement or a wire send relies on). Without it
        the write survives a crash of this process but may be undone by a power loss."""
        await self.write(durable)

    def write(self, durable: bool = True) -> asyncio.Future[None]:
        """Hand every staged change to the writer now, as ``commit`` does, and return at once: the returned
        future completes when the write (and every earlier one) is on disk. Changes staged meanwhile go into
        a later write, so a caller can prepare the next batch while this one is written."""
        rows = self._take_dirty()
        # Every record staged so far has a sequence number up to ``mark``: all of them are on disk once this
        # write is, unless an earlier write fails meanwhile (``failures`` changes; its rows are staged again).
        mark, failures = self._seq, self._failures
        loop = asyncio.get_running_loop()
        if not rows and not (durable and self._unsynced):
            return asyncio.ensure_future(self._after_last(durable, mark, failures))
        future = loop.run_in_executor(self._writer, self._write, rows, durable)
        self._last_write = future
        # writes run in order: once a durable one is done, every earlier one is synced too
        self._unsynced = not durable
        return asyncio.ensure_future(self._landed(future, rows, durable, mark, failures))

    async def _landed(
        self, future: asyncio.Future[None], rows: list[_Row], durable: bool, mark: int, failures: int
    ) -> None:
        try:
            await asyncio.shield(future)
        except sqlite3.Error as exc:
            self._failures += 1
            self._restage(rows)
            raise KeystoreError(f"the keystore could not be written ({exc.__class__.__name__})") from exc
        if durable and failures == self._failures:
            self._durable_seq = max(self._durable_seq, mark)

    async def _after_last(self, durable: bool, mark: int, failures: int) -> None:
        # nothing staged: done when the last write is (its own failure is reported to its own caller)
        last = self._last_write
        if last is None:
            failed = False
        else:
            with contextlib.suppress(sqlite3.Error):
                await asyncio.shield(last)
            failed = last.cancelled() or last.exception() is not None
        # durable here means the last write was durable too (otherwise the journal would be synced instead)
        if durable and not failed and failures == self._failures:
            self._durable_seq = max(self._durable_seq, mark)

    @property
    def durable_seq(self) -> int:
        """Every record whose sequence number (``Table.seq``) is at most this is fsynced on disk."""
        return self._durable_seq

    def commit_soon(self) -> None:
        """Write staged changes in the background (not fsynced); for removals that a crash may undo safely."""
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        with contextlib.suppress(KeystoreError):
            await self.commit(durable=False)

    def _take_dirty(self) -> list[_Row]:
        for stage in self._before_write:
            stage()
        rows: list[_Row] = []
        for (kind, key), table in self._dirty.items():
            row = table._row(key)
            name = self._name(kind, key)
            rows.append((kind, key, name, None, None) if row is None else (kind, key, name, row[0], row[1]))
        self._dirty = {}
        return rows

    def _restage(self, rows: list[_Row]) -> None:
        # a failed write: memory still holds the newest values; stage them again for the next commit
        for kind, key, _, _, _ in rows:
            self._dirty.setdefault((kind, key), self._tables[kind])

    def commit_now(self) -> None:
        """Write what is staged from the calling thread (creation and migration, before any loop use)."""
        self._write(self._take_dirty(), True)

    def _write(self, rows: list[_Row], durable: bool) -> None:
        conn = self._conn
        if not rows:
            # Nothing left to write, but earlier writes were not fsynced (a background commit took the rows
            # this durable commit was for): sync the journal that holds them.
            self._sync_journal()
            return
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for kind, _, name, seq, plain in rows:
                if plain is None:
                    conn.execute("DELETE FROM records WHERE kind = ? AND name = ?", (kind, name))
                else:
                    conn.execute(
                        "INSERT OR REPLACE INTO records (kind, name, seq, sealed) VALUES (?, ?, ?, ?)",
                        (kind, name, seq, self._seal(kind, name, plain)),
                    )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _sync_journal(self) -> None:
        try:
            fd = os.open(f"{self.path}-wal", os.O_RDONLY)
        except FileNotFoundError:
            return  # no journal (checkpointed and removed): nothing is waiting for a sync
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- sealing ---------------------------------------------------------------------------------------------

    def _name(self, kind: str, key: str) -> bytes:
        return primitives.blake2b(kind.encode() + b"\0" + key.encode(), _NAME_SIZE, self._name_key)

    def _seal(self, kind: str, name: bytes, plain: bytes) -> bytes:
        nonce = primitives.random_bytes(primitives.AEAD_NONCE_SIZE)
        ad = _AD + kind.encode() + b"\0" + name
        return nonce + primitives.aead_encrypt(self._seal_key, nonce, plain, ad)

    def _open(self, kind: str, name: bytes, sealed: bytes) -> bytes:
        nonce, body = sealed[: primitives.AEAD_NONCE_SIZE], sealed[primitives.AEAD_NONCE_SIZE :]
        try:
            return primitives.aead_decrypt(self._seal_key, nonce, body, _AD + kind.encode() + b"\0" + name)
        except Exception:
            raise KeystoreError("the keystore file is corrupt") from None


_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE records (
    kind TEXT NOT NULL,
    name BLOB NOT NULL,
    seq INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (kind, name)
) WITHOUT ROWID;
"""

def new_file(path: Path, wrapped_key: str) -> sqlite3.Connection:
    """Lay out an empty keystore file at ``path`` (created, empty, by the caller with mode 0600)."""
    conn = _connect(path)
    conn.executescript(_SCHEMA)
    conn.executemany(
        "INSERT INTO meta (name, value) VALUES (?, ?)",
        [("format", FORMAT), ("v", VERSION), ("wrapped_key", wrapped_key)],
    )
    return conn


def _lock(path: Path) -> int:
    """Hold ``flock`` on ``<file>.lock``: refused while another open keystore (any process) holds it."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise KeystoreLocked(
            "this keystore is already open (in this or another process); close that device first"
        ) from None
    return fd


def _connect(path: Path) -> sqlite3.Connection:
    # check_same_thread=False: opened here, then used only by the keystore's single writer thread
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn
