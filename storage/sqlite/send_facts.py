"""The facts of one send (storage/send_facts.py) in ONE reader-thread call: two indexed queries."""

from __future__ import annotations

import sqlite3

from storage.records import ConsentState
from storage.send_facts import PairFacts, SendFacts
from storage.sqlite._engine import Engine

__all__ = ["SqliteSendFactsStore"]

# Each subquery is a primary-key or index lookup; a missing account reads as NULL (not enabled).
_PAIR = (
    "SELECT (SELECT NOT disabled FROM accounts WHERE account_id = ?), "
    "(SELECT NOT disabled FROM accounts WHERE account_id = ?), "
    "EXISTS (SELECT 1 FROM links WHERE therapist_id = ? AND client_id = ?), "
    "(SELECT coalesce(max(version), 0) FROM terms WHERE therapist_id = ?), "
    "(SELECT coalesce(max(version), 0) FROM consents WHERE therapist_id = ? AND client_id = ?)"
)
_SELF = "SELECT (SELECT NOT disabled FROM accounts WHERE account_id = ?)"


class SqliteSendFactsStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def get_send_facts(
        self, sender_id: str, recipient_id: str, pair: tuple[str, str] | None
    ) -> SendFacts:
        def read(conn: sqlite3.Connection) -> SendFacts:
            # One read transaction, so that the answer is one snapshot of the database.
            conn.execute("BEGIN")
            try:
                if pair is None:
                    (sender_enabled,) = conn.execute(_SELF, (sender_id,)).fetchone()
                    rows = conn.execute(
                        "SELECT device_id, revoked_at FROM devices WHERE account_id = ?", (sender_id,)
                    ).fetchall()
                    facts = None
                else:
                    t, c = pair
                    sender_enabled, recipient_enabled, linked, current, accepted = conn.execute(
                        _PAIR, (sender_id, recipient_id, t, c, t, t, c)
                    ).fetchone()
                    rows = conn.execute(
                        "SELECT device_id, revoked_at FROM devices WHERE account_id IN (?, ?)",
                        (sender_id, recipient_id),
                    ).fetchall()
                    facts = PairFacts(bool(linked), bool(recipient_enabled), ConsentState(current, accepted))
            finally:
                if conn.in_transaction:  # read-only: ending it changes nothing, and frees the snapshot
                    conn.execute("COMMIT")
            return SendFacts(
                bool(sender_enabled),
                frozenset(r[0] for r in rows if r[1] is None),
                frozenset(r[0] for r in rows if r[1] is not None),
                facts,
            )

        return await self._engine.read(read)
