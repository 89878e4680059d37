"""SQLite stores for accounts, invitations and therapist<->client links."""

from __future__ import annotations

import sqlite3

from storage.errors import InvitationUnusable
from storage.records import Account, Invitation, Link, NewDevice, Role
from storage.sqlite import _rows
from storage.sqlite._engine import Engine
from storage.sqlite.erasure import erase

__all__ = ["SqliteAccountStore", "SqliteInvitationStore", "SqliteLinkStore"]


class SqliteAccountStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "accounts", account_id)

    async def get_account(self, account_id: str) -> Account | None:
        def read(conn: sqlite3.Connection) -> Account | None:
            row = conn.execute(
                f"SELECT {_rows.ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ?",
                (account_id,),
            ).fetchone()
            return None if row is None else _rows.account(row)

        return await self._engine.read(read)

    async def count_accounts(self) -> int:
        def read(conn: sqlite3.Connection) -> int:
            count: int = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
            return count

        return await self._engine.read(read)

    async def set_account_disabled(self, account_id: str, disabled: bool) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE accounts SET disabled = ? WHERE account_id = ?", (int(disabled), account_id)
            )
            return cur.rowcount == 1

        return await self._engine.write(write)

    async def add_account_from_invitation(
        self, *, code_hash: bytes, account_id: str, device: NewDevice, now: int, account_key: bytes = b""
    ) -> tuple[Account, Invitation]:
        def redeem_invitation(conn: sqlite3.Connection) -> tuple[Account, Invitation]:
            # The conditional UPDATE is the race guard: of two concurrent redemptions only one
            # matches `used_at IS NULL`, the other sees rowcount 0.
            cur = conn.execute(
                "UPDATE invitations SET used_at = ? "
                "WHERE code_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ? "
                "AND (inviter_id IS NULL "
                "OR inviter_id IN (SELECT account_id FROM accounts WHERE disabled = 0))",
                (now, code_hash, now),
            )
            if cur.rowcount != 1:
                raise InvitationUnusable()
            row = conn.execute(
                f"SELECT {_rows.INVITATION_COLUMNS} FROM invitations WHERE code_hash = ?", (code_hash,)
            ).fetchone()
            invitation = _rows.invitation(row)
            conn.execute(
                "INSERT INTO accounts (account_id, role, created_at, disabled, account_key) "
                "VALUES (?, ?, ?, 0, ?)",
                (account_id, invitation.role.value, now, account_key),
            )
            # The invitation references the account, which exists only now.
            conn.execute("UPDATE invitations SET account_id = ? WHERE code_hash = ?", (account_id, code_hash))
            _rows.insert_device(conn, account_id, device, now)
            if invitation.role is Role.CLIENT and invitation.inviter_id is not None:
                conn.execute(
                    "INSERT INTO links (therapist_id, client_id, created_at, label_ciphertext) "
                    "VALUES (?, ?, ?, ?)",
                    (invitation.inviter_id, account_id, now, invitation.label_ciphertext),
                )
            account = Account(
                account_id=account_id,
                role=invitation.role,
                created_at=now,
                disabled=False,
                account_key=account_key,
            )
            return account, invitation

        return await self._engine.write(redeem_invitation)


class SqliteInvitationStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "invitations", account_id)

    async def add_invitation(self, invitation: Invitation) -> None:
        i = invitation

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO invitations ({_rows.INVITATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    i.invitation_id,
                    i.code_hash,
                    i.inviter_id,
                    i.role.value,
                    i.created_at,
                    i.expires_at,
                    i.used_at,
                    i.revoked_at,
                    i.account_id,
                    i.label_ciphertext,
                ),
            )

        await self._engine.write(write)

    async def get_invitation_by_code_hash(self, code_hash: bytes) -> Invitation | None:
        def read(conn: sqlite3.Connection) -> Invitation | None:
            row = conn.execute(
                f"SELECT {_rows.INVITATION_COLUMNS} FROM invitations WHERE code_hash = ?", (code_hash,)
            ).fetchone()
            return None if row is None else _rows.invitation(row)

        return await self._engine.read(read)

    async def get_invitations_by_inviter(self, inviter_id: str) -> list[Invitation]:
        def read(conn: sqlite3.Connection) -> list[Invitation]:
            rows = conn.execute(
                f"SELECT {_rows.INVITATION_COLUMNS} FROM invitations WHERE inviter_id = ? "
                "ORDER BY created_at, invitation_id",
                (inviter_id,),
            ).fetchall()
            return [_rows.invitation(r) for r in rows]

        return await self._engine.read(read)

    async def revoke_invitation(self, invitation_id: str, inviter_id: str, now: int) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE invitations SET revoked_at = ? WHERE invitation_id = ? AND inviter_id = ? "
                "AND used_at IS NULL AND revoked_at IS NULL",
                (now, invitation_id, inviter_id),
            )
            return cur.rowcount == 1

        return await self._engine.write(write)

    async def revoke_operator_invitations(self, role: Role, now: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "UPDATE invitations SET revoked_at = ? WHERE inviter_id IS NULL AND role = ? "
                "AND used_at IS NULL AND revoked_at IS NULL",
                (now, role.value),
            )
            return cur.rowcount

        return await self._engine.write(write)

    async def delete_expired_invitations(self, now: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            cur = conn.execute("DELETE FROM invitations WHERE used_at IS NULL AND expires_at <= ?", (now,))
            return cur.rowcount

        return await self._engine.write(write)


class SqliteLinkStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "links", account_id)

    async def delete_link(self, therapist_id: str, client_id: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM links WHERE therapist_id = ? AND client_id = ?", (therapist_id, client_id)
            )
            return cur.rowcount == 1

        return await self._engine.write(write)

    async def get_link(self, therapist_id: str, client_id: str) -> Link | None:
        def read(conn: sqlite3.Connection) -> Link | None:
            row = conn.execute(
                "SELECT therapist_id, client_id, created_at, label_ciphertext FROM links "
                "WHERE therapist_id = ? AND client_id = ?",
                (therapist_id, client_id),
            ).fetchone()
            return None if row is None else _link(row)

        return await self._engine.read(read)

    async def get_links_of(self, account_id: str) -> list[Link]:
        def read(conn: sqlite3.Connection) -> list[Link]:
            rows = conn.execute(
                "SELECT therapist_id, client_id, created_at, label_ciphertext FROM links "
                "WHERE therapist_id = ? OR client_id = ? ORDER BY created_at",
                (account_id, account_id),
            ).fetchall()
            return [_link(r) for r in rows]

        return await self._engine.read(read)


def _link(row: tuple[str, str, int, bytes | None]) -> Link:
    return Link(
        therapist_id=row[0],
        client_id=row[1],
        created_at=row[2],
        label_ciphertext=None if row[3] is None else bytes(row[3]),
    )
