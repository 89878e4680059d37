"""SQLite stores for devices, one-time prekeys, login challenges and bearer tokens."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from storage.errors import DeviceLimitReached, LinkCodeUnusable, PrekeyIdConflict, PrekeyLimitReached
from storage.records import Bundle, Device, NewDevice, OneTimePrekey, SignedPrekey, TokenRecord
from storage.sqlite import _rows
from storage.sqlite._engine import Engine
from storage.sqlite.erasure import erase

__all__ = ["SqliteChallengeStore", "SqliteDeviceStore", "SqlitePrekeyStore", "SqliteTokenStore"]


class SqliteDeviceStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "devices", account_id)

    async def get_device(self, device_id: str) -> Device | None:
        def read(conn: sqlite3.Connection) -> Device | None:
            row = conn.execute(
                f"SELECT {_rows.DEVICE_COLUMNS} FROM devices WHERE device_id = ?", (device_id,)
            ).fetchone()
            return None if row is None else _rows.device(row)

        return await self._engine.read(read)

    async def get_devices(self, account_ids: Sequence[str]) -> list[Device]:
        ids = list(dict.fromkeys(account_ids))

        def read(conn: sqlite3.Connection) -> list[Device]:
            marks = ",".join("?" * len(ids))
            rows = conn.execute(
                f"SELECT {_rows.DEVICE_COLUMNS} FROM devices WHERE account_id IN ({marks}) "
                "ORDER BY created_at, device_id",
                ids,
            ).fetchall()
            return [_rows.device(r) for r in rows]

        return await self._engine.read(read) if ids else []

    async def add_link_code(self, code_hash: bytes, account_id: str, expires_at: int) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO link_codes (code_hash, account_id, expires_at) VALUES (?, ?, ?)",
                (code_hash, account_id, expires_at),
            )

        await self._engine.write(write)

    async def add_device_with_link_code(
        self, *, code_hash: bytes, device: NewDevice, max_devices: int, now: int
    ) -> Device:
        def link_device(conn: sqlite3.Connection) -> Device:
            row = conn.execute(
                "SELECT l.account_id FROM link_codes l JOIN accounts a ON a.account_id = l.account_id "
                "WHERE l.code_hash = ? AND l.expires_at > ? AND a.disabled = 0",
                (code_hash, now),
            ).fetchone()
            if row is None:
                raise LinkCodeUnusable()
            account_id: str = row[0]
            (active,) = conn.execute(
                "SELECT count(*) FROM devices WHERE account_id = ? AND revoked_at IS NULL", (account_id,)
            ).fetchone()
            if active >= max_devices:
                raise DeviceLimitReached()  # raising rolls the savepoint back: the code stays usable
            conn.execute("DELETE FROM link_codes WHERE code_hash = ?", (code_hash,))
            return _rows.insert_device(conn, account_id, device, now)

        return await self._engine.write(link_device)

    async def revoke_device(self, device_id: str, now: int) -> bool:
        def revoke(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE devices SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL",
                (now, device_id),
            )
            if cur.rowcount != 1:
                return False
            for table in ("tokens", "challenges", "one_time_prekeys", "mailbox"):
                conn.execute(f"DELETE FROM {table} WHERE device_id = ?", (device_id,))
            return True

        return await self._engine.write(revoke)

    async def set_signed_prekey(self, device_id: str, prekey: SignedPrekey) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE devices SET signed_prekey_id = ?, signed_prekey_public = ?, "
                "signed_prekey_signature = ? WHERE device_id = ?",
                (prekey.id, prekey.public, prekey.signature, device_id),
            )

        await self._engine.write(write)

    async def delete_expired_link_codes(self, now: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM link_codes WHERE expires_at <= ?", (now,)).rowcount

        return await self._engine.write(write)


class SqlitePrekeyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "prekeys", account_id)

    async def add_one_time_prekeys(
        self, device_id: str, prekeys: Sequence[OneTimePrekey], max_stored: int
    ) -> int:
        rows = [(device_id, p.id, p.public) for p in prekeys]

        def write(conn: sqlite3.Connection) -> int:
            (count,) = conn.execute(
                "SELECT count(*) FROM one_time_prekeys WHERE device_id = ?", (device_id,)
            ).fetchone()
            if count + len(rows) > max_stored:
                raise PrekeyLimitReached()
            try:
                conn.executemany(
                    "INSERT INTO one_time_prekeys (device_id, prekey_id, public) VALUES (?, ?, ?)", rows
                )
            except sqlite3.IntegrityError as exc:  # UNIQUE (device_id, prekey_id)
                raise PrekeyIdConflict() from exc
            total: int = count + len(rows)
            return total

        return await self._engine.write(write)

    async def count_one_time_prekeys(self, device_id: str) -> int:
        def read(conn: sqlite3.Connection) -> int:
            count: int = conn.execute(
                "SELECT count(*) FROM one_time_prekeys WHERE device_id = ?", (device_id,)
            ).fetchone()[0]
            return count

        return await self._engine.read(read)

    async def get_one_time_prekey_ids(self, device_id: str) -> list[int]:
        def read(conn: sqlite3.Connection) -> list[int]:
            rows = conn.execute(
                "SELECT prekey_id FROM one_time_prekeys WHERE device_id = ? ORDER BY seq", (device_id,)
            ).fetchall()
            return [int(r[0]) for r in rows]

        return await self._engine.read(read)

    async def claim_bundles(self, device_ids: Sequence[str]) -> list[Bundle]:
        ids = list(dict.fromkeys(device_ids))

        def claim(conn: sqlite3.Connection) -> list[Bundle]:
            # Runs on the single writer: the SELECT-then-DELETE of the oldest key cannot interleave
            # with another claim, so a one-time prekey is handed out at most once.
            bundles = []
            for device_id in ids:
                row = conn.execute(
                    f"SELECT {_rows.DEVICE_COLUMNS} FROM devices WHERE device_id = ? AND revoked_at IS NULL",
                    (device_id,),
                ).fetchone()
                if row is None:
                    continue
                device = _rows.device(row)
                otk = conn.execute(
                    "DELETE FROM one_time_prekeys WHERE seq = (SELECT seq FROM one_time_prekeys "
                    "WHERE device_id = ? ORDER BY seq LIMIT 1) RETURNING prekey_id, public",
                    (device_id,),
                ).fetchone()
                (remaining,) = conn.execute(
                    "SELECT count(*) FROM one_time_prekeys WHERE device_id = ?", (device_id,)
                ).fetchone()
                bundles.append(
                    Bundle(
                        device_id=device_id,
                        identity_key=device.identity_key,
                        signed_prekey=device.signed_prekey,
                        one_time_prekey=None if otk is None else OneTimePrekey(otk[0], bytes(otk[1])),
                        remaining=remaining,
                        certificate=device.certificate,
                    )
                )
            return bundles

        return await self._engine.write(claim)


class SqliteChallengeStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "challenges", account_id)

    async def add_challenge(self, nonce: bytes, device_id: str, expires_at: int) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO challenges (nonce, device_id, expires_at) VALUES (?, ?, ?)",
                (nonce, device_id, expires_at),
            )

        await self._engine.write(write)

    async def take_challenge(self, nonce: bytes, device_id: str, now: int) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            # Deleted whatever the outcome: a nonce is never usable twice.
            row = conn.execute(
                "DELETE FROM challenges WHERE nonce = ? RETURNING device_id, expires_at", (nonce,)
            ).fetchone()
            return row is not None and row[0] == device_id and row[1] > now

        return await self._engine.write(write)

    async def delete_expired_challenges(self, now: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM challenges WHERE expires_at <= ?", (now,)).rowcount

        return await self._engine.write(write)


class SqliteTokenStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "tokens", account_id)

    async def add_token(self, token_hash: bytes, record: TokenRecord) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO tokens (token_hash, device_id, account_id, expires_at) VALUES (?, ?, ?, ?)",
                (token_hash, record.device_id, record.account_id, record.expires_at),
            )

        await self._engine.write(write)

    async def get_token(self, token_hash: bytes) -> TokenRecord | None:
        def read(conn: sqlite3.Connection) -> TokenRecord | None:
            row = conn.execute(
                "SELECT device_id, account_id, expires_at FROM tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return None if row is None else TokenRecord(row[0], row[1], row[2])

        return await self._engine.read(read)

    async def delete_token(self, token_hash: bytes) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM tokens WHERE token_hash = ?", (token_hash,)).rowcount == 1

        return await self._engine.write(write)

    async def delete_expired_tokens(self, now: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM tokens WHERE expires_at <= ?", (now,)).rowcount

        return await self._engine.write(write)
