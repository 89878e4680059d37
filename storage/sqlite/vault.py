"""``storage.vault.VaultStore`` for the embedded backend (tables ``vault_records``, ``vault_heads``,
``recovery_backups``: schema version 5).

Every write is one function on the single writer thread, so the version check, the record-count check and the
change-position bump are one transaction: two devices racing on one record cannot both pass the check.
"""

from __future__ import annotations

import sqlite3

from storage.sqlite._engine import Engine
from storage.vault import RecoveryBackup, VaultConflict, VaultFull, VaultIndexEntry, VaultRecord

__all__ = ["SqliteVaultStore"]

_COLUMNS = "account_id, record_id, version, seq, ciphertext, created_at, updated_at"


def _record(row: tuple[str, str, int, int, bytes, int, int]) -> VaultRecord:
    account, record, version, seq, ciphertext, created, updated = row
    return VaultRecord(account, record, int(version), int(seq), bytes(ciphertext), int(created), int(updated))


def _bump(conn: sqlite3.Connection, account_id: str) -> int:
    conn.execute(
        "INSERT INTO vault_heads (account_id, seq) VALUES (?, 1) "
        "ON CONFLICT(account_id) DO UPDATE SET seq = seq + 1",
        (account_id,),
    )
    (seq,) = conn.execute("SELECT seq FROM vault_heads WHERE account_id = ?", (account_id,)).fetchone()
    return int(seq)


def _current_version(conn: sqlite3.Connection, account_id: str, record_id: str) -> int:
    row = conn.execute(
        "SELECT version FROM vault_records WHERE account_id = ? AND record_id = ?", (account_id, record_id)
    ).fetchone()
    return 0 if row is None else int(row[0])


class SqliteVaultStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def put_vault_record(
        self,
        account_id: str,
        record_id: str,
        ciphertext: bytes,
        *,
        expected_version: int,
        max_records: int,
        now: int,
    ) -> VaultRecord:

        def write(conn: sqlite3.Connection) -> VaultRecord:
            current = _current_version(conn, account_id, record_id)
            if current != expected_version:
                raise VaultConflict(current)
            if current == 0:
                (count,) = conn.execute(
                    "SELECT COUNT(*) FROM vault_records WHERE account_id = ?", (account_id,)
                ).fetchone()
                if count >= max_records:
                    raise VaultFull(int(count), max_records)
                seq = _bump(conn, account_id)
                conn.execute(
                    f"INSERT INTO vault_records ({_COLUMNS}) VALUES (?, ?, 1, ?, ?, ?, ?)",
                    (account_id, record_id, seq, ciphertext, now, now),
                )
            else:
                seq = _bump(conn, account_id)
                conn.execute(
                    "UPDATE vault_records SET version = version + 1, seq = ?, ciphertext = ?, updated_at = ? "
                    "WHERE account_id = ? AND record_id = ?",
                    (seq, ciphertext, now, account_id, record_id),
                )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM vault_records WHERE account_id = ? AND record_id = ?",
                (account_id, record_id),
            ).fetchone()
            return _record(row)

        return await self._engine.write(write)

    async def get_vault_record(self, account_id: str, record_id: str) -> VaultRecord | None:

        def read(conn: sqlite3.Connection) -> VaultRecord | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM vault_records WHERE account_id = ? AND record_id = ?",
                (account_id, record_id),
            ).fetchone()
            return None if row is None else _record(row)

        return await self._engine.read(read)

    async def get_vault_changes(self, account_id: str, *, after_seq: int, limit: int) -> list[VaultRecord]:

        def read(conn: sqlite3.Connection) -> list[VaultRecord]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM vault_records WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (account_id, after_seq, limit),
            ).fetchall()
            return [_record(r) for r in rows]

        return await self._engine.read(read)

    async def get_vault_index(self, account_id: str) -> list[VaultIndexEntry]:

        def read(conn: sqlite3.Connection) -> list[VaultIndexEntry]:
            rows = conn.execute(
                "SELECT record_id, version, seq, length(ciphertext), updated_at FROM vault_records "
                "WHERE account_id = ? ORDER BY seq",
                (account_id,),
            ).fetchall()
            return [VaultIndexEntry(r, int(v), int(s), int(n), int(u)) for r, v, s, n, u in rows]

        return await self._engine.read(read)

    async def get_vault_position(self, account_id: str) -> int:

        def read(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT seq FROM vault_heads WHERE account_id = ?", (account_id,)).fetchone()
            return 0 if row is None else int(row[0])

        return await self._engine.read(read)

    async def delete_vault_record(self, account_id: str, record_id: str, *, expected_version: int) -> int:

        def write(conn: sqlite3.Connection) -> int:
            current = _current_version(conn, account_id, record_id)
            if current == 0 or current != expected_version:
                raise VaultConflict(current)
            conn.execute(
                "DELETE FROM vault_records WHERE account_id = ? AND record_id = ?", (account_id, record_id)
            )
            return _bump(conn, account_id)

        return await self._engine.write(write)

    async def delete_vault_of(self, account_id: str) -> int:

        def write(conn: sqlite3.Connection) -> int:
            deleted = conn.execute("DELETE FROM vault_records WHERE account_id = ?", (account_id,)).rowcount
            conn.execute("DELETE FROM vault_heads WHERE account_id = ?", (account_id,))
            conn.execute("DELETE FROM recovery_backups WHERE account_id = ?", (account_id,))
            return int(deleted)

        return await self._engine.write(write)

    async def erase_account(self, account_id: str) -> int:
        return await self.delete_vault_of(account_id)

    async def put_recovery_backup(self, backup: RecoveryBackup) -> None:
        b = backup

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM recovery_backups WHERE account_id = ?", (b.account_id,))
            conn.execute(
                "INSERT INTO recovery_backups (account_id, lookup_id, verifier, ciphertext, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (b.account_id, b.lookup_id, b.verifier, b.ciphertext, b.created_at),
            )

        await self._engine.write(write)

    async def get_recovery_backup(self, lookup_id: str) -> RecoveryBackup | None:
        return await self._backup("lookup_id", lookup_id)

    async def get_recovery_backup_of(self, account_id: str) -> RecoveryBackup | None:
        return await self._backup("account_id", account_id)

    async def _backup(self, column: str, value: str) -> RecoveryBackup | None:

        def read(conn: sqlite3.Connection) -> RecoveryBackup | None:
            row = conn.execute(
                "SELECT account_id, lookup_id, verifier, ciphertext, created_at FROM recovery_backups "
                f"WHERE {column} = ?",
                (value,),
            ).fetchone()
            if row is None:
                return None
            account, lookup, verifier, ciphertext, created = row
            return RecoveryBackup(account, lookup, bytes(verifier), bytes(ciphertext), int(created))

        return await self._engine.read(read)
