"""SQLite stores for consent (terms + acceptances) and the per-device mailbox streams."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from storage.errors import TermsVersionConflict
from storage.records import Consent, ConsentState, MailboxItem, NewSend, SendOutcome, Terms
from storage.sqlite import retention
from storage.sqlite._engine import Engine
from storage.sqlite.erasure import erase

__all__ = ["SqliteConsentStore", "SqliteMailboxStore"]

_CONSENT_COLUMNS = (
    "therapist_id, client_id, version, terms_hash, signed_at, signature, device_id, accepted_at"
)


def _consent(row: tuple[str, str, int, bytes, int, bytes, str, int]) -> Consent:
    return Consent(row[0], row[1], row[2], bytes(row[3]), row[4], bytes(row[5]), row[6], row[7])


class SqliteConsentStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "consent", account_id)

    async def delete_unreferenced_terms(self) -> int:
        return await retention.delete_unreferenced_terms(self._engine)

    async def add_terms(self, therapist_id: str, text: str, terms_hash: bytes, now: int) -> Terms:
        def publish_terms(conn: sqlite3.Connection) -> Terms:
            (current,) = conn.execute(
                "SELECT coalesce(max(version), 0) FROM terms WHERE therapist_id = ?", (therapist_id,)
            ).fetchone()
            try:
                conn.execute(
                    "INSERT INTO terms (therapist_id, version, text, terms_hash, published_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (therapist_id, current + 1, text, terms_hash, now),
                )
            except sqlite3.IntegrityError as exc:  # PRIMARY KEY (therapist_id, version)
                raise TermsVersionConflict() from exc
            return Terms(therapist_id, current + 1, text, terms_hash, now)

        return await self._engine.write(publish_terms)

    async def get_terms(self, therapist_id: str) -> Terms | None:
        def read(conn: sqlite3.Connection) -> Terms | None:
            row = conn.execute(
                "SELECT therapist_id, version, text, terms_hash, published_at FROM terms "
                "WHERE therapist_id = ? ORDER BY version DESC LIMIT 1",
                (therapist_id,),
            ).fetchone()
            return None if row is None else Terms(row[0], row[1], row[2], bytes(row[3]), row[4])

        return await self._engine.read(read)

    async def add_consent(self, consent: Consent) -> None:
        c = consent

        def write(conn: sqlite3.Connection) -> None:
            # Re-accepting the same version keeps the first record (the first proof stays valid).
            conn.execute(
                f"INSERT OR IGNORE INTO consents ({_CONSENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    c.therapist_id,
                    c.client_id,
                    c.version,
                    c.terms_hash,
                    c.signed_at,
                    c.signature,
                    c.device_id,
                    c.accepted_at,
                ),
            )

        await self._engine.write(write)

    async def get_consent_state(self, therapist_id: str, client_id: str) -> ConsentState:
        def read(conn: sqlite3.Connection) -> ConsentState:
            row = conn.execute(
                "SELECT (SELECT coalesce(max(version), 0) FROM terms WHERE therapist_id = ?), "
                "(SELECT coalesce(max(version), 0) FROM consents WHERE therapist_id = ? AND client_id = ?)",
                (therapist_id, therapist_id, client_id),
            ).fetchone()
            return ConsentState(current_version=row[0], accepted_version=row[1])

        return await self._engine.read(read)

    async def get_consents_of(self, account_id: str) -> list[Consent]:
        def read(conn: sqlite3.Connection) -> list[Consent]:
            rows = conn.execute(
                f"SELECT {_CONSENT_COLUMNS} FROM consents c WHERE (therapist_id = ? OR client_id = ?) "
                "AND version = (SELECT max(version) FROM consents d "
                "WHERE d.therapist_id = c.therapist_id AND d.client_id = c.client_id) "
                "ORDER BY accepted_at",
                (account_id, account_id),
            ).fetchall()
            return [_consent(r) for r in rows]

        return await self._engine.read(read)


class SqliteMailboxStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def erase_account(self, account_id: str) -> int:
        return await erase(self._engine, "mailbox", account_id)

    async def delete_sends_before(self, cutoff: int) -> int:
        return await retention.delete_sends_before(self._engine, cutoff)

    async def add_send(
        self, send: NewSend, *, on_commit: Callable[[SendOutcome], object] | None = None
    ) -> SendOutcome:
        s = send

        def store_send(conn: sqlite3.Connection) -> SendOutcome:
            # PRIMARY KEY (from_device, message_id) makes a retry a no-op that returns the original time.
            inserted = conn.execute(
                "INSERT INTO sends (from_device, message_id, accepted_at, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (s.from_device, s.message_id, s.sent_at, s.expires_at),
            ).rowcount
            if inserted != 1:
                (accepted_at,) = conn.execute(
                    "SELECT accepted_at FROM sends WHERE from_device = ? AND message_id = ?",
                    (s.from_device, s.message_id),
                ).fetchone()
                return SendOutcome(accepted_at=accepted_at, duplicate=True, positions={})
            positions = {}
            for env in s.envelopes:
                cur = conn.execute(
                    "INSERT INTO mailbox (device_id, message_id, from_account, from_device, type, "
                    "ciphertext, sent_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        env.to_device,
                        s.message_id,
                        s.from_account,
                        s.from_device,
                        env.type,
                        env.ciphertext,
                        s.sent_at,
                        s.expires_at,
                    ),
                )
                assert cur.lastrowid is not None
                positions[env.to_device] = cur.lastrowid
            return SendOutcome(accepted_at=s.sent_at, duplicate=False, positions=positions)

        return await self._engine.write(store_send, rerunnable=True, then=on_commit)

    async def get_send(self, from_device: str, message_id: str) -> SendOutcome | None:
        def read(conn: sqlite3.Connection) -> SendOutcome | None:
            row = conn.execute(
                "SELECT accepted_at FROM sends WHERE from_device = ? AND message_id = ?",
                (from_device, message_id),
            ).fetchone()
            return None if row is None else SendOutcome(accepted_at=row[0], duplicate=True, positions={})

        return await self._engine.read(read)

    async def get_items(self, device_id: str, after: int, limit: int, now: int) -> list[MailboxItem]:
        def read(conn: sqlite3.Connection) -> list[MailboxItem]:
            rows = conn.execute(
                "SELECT pos, message_id, from_account, from_device, type, ciphertext, sent_at, expires_at "
                "FROM mailbox "
                "WHERE device_id = ? AND pos > ? AND expires_at > ? ORDER BY pos LIMIT ?",
                (device_id, after, now, limit),
            ).fetchall()
            return [MailboxItem(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6], r[7]) for r in rows]

        return await self._engine.read(read)

    async def delete_items(self, device_id: str, up_to: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM mailbox WHERE device_id = ? AND pos <= ?", (device_id, up_to)
            ).rowcount

        return await self._engine.write(write, rerunnable=True)

    async def delete_expired_items(self, now: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            deleted = conn.execute("DELETE FROM mailbox WHERE expires_at <= ?", (now,)).rowcount
            conn.execute("DELETE FROM sends WHERE expires_at <= ?", (now,))
            return deleted

        return await self._engine.write(write)
