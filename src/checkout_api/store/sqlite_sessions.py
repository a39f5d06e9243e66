"""The create/reuse queries on SQLite, through `SqliteDirect` (sqlite_direct.py says why).

The SQL mirrors the SQLAlchemy statements in sessions.py; the tests run every store
behaviour on SQLite and on PostgreSQL, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from checkout_api.gateway.models import StripeSession
from checkout_api.store.sessions import SessionRepository, StoredSession
from checkout_api.store.sqlite_direct import SqliteDirect, now_text, parse_datetime

_FIELDS = ", ".join(StoredSession.__slots__)
_FIND_ACTIVE = (
    f"SELECT {_FIELDS} FROM checkout_sessions"
    " WHERE session_id = ? AND cart_fingerprint = ? AND state IN ('pending', 'open')"
)
_INSERT_PENDING = (
    "INSERT INTO checkout_sessions (session_id, cart_fingerprint, idempotency_key, state,"
    " lease_expires_at, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)"
    " ON CONFLICT DO NOTHING RETURNING id"
)
_MARK_OPEN = (
    "UPDATE checkout_sessions SET state = 'open', lease_expires_at = NULL,"
    " client_secret_enc = ?, updated_at = ?, stripe_id = ?, status = ?, payment_status = ?,"
    " amount_total = ?, currency = ?, expires_at = ?, livemode = ? WHERE id = ?"
)
_SUPERSEDE_OTHERS = (
    "UPDATE checkout_sessions SET state = 'superseded', client_secret_enc = NULL,"
    " updated_at = ? WHERE session_id = ? AND state = 'open' AND id != ? RETURNING stripe_id"
)


class SqliteSessionRepository(SessionRepository):
    """`SessionRepository` with the create/reuse queries on `SqliteDirect`."""

    def __init__(self, engine: AsyncEngine, direct: SqliteDirect) -> None:
        super().__init__(engine)
        self._direct = direct

    async def find_active(self, session_id: str, fingerprint: str) -> StoredSession | None:
        row = self._direct.read_one(_FIND_ACTIVE, (session_id, fingerprint))
        return _stored(row) if row else None

    async def insert_pending(
        self, session_id: str, fingerprint: str, idempotency_key: str, lease_expires_at: float
    ) -> int | None:
        now = now_text()
        write = self._direct.write(
            lambda db: db.execute(
                _INSERT_PENDING,
                (session_id, fingerprint, idempotency_key, lease_expires_at, now, now),
            ).fetchone()
        )
        try:
            row = await asyncio.shield(write)
        except asyncio.CancelledError:
            # The writer thread may still commit the claim; take it back rather than leave
            # the cart blocked until its lease runs out.
            claimed = await write
            if claimed:
                await self.delete_pending(int(claimed[0]))
            raise
        return int(row[0]) if row else None

    async def mark_open(
        self, row_id: int, session_id: str, session: StripeSession, client_secret_enc: bytes | None
    ) -> list[str]:
        now = now_text()
        opened = (
            client_secret_enc,
            now,
            session.id,
            session.status,
            session.payment_status,
            session.amount_total,
            session.currency,
            session.expires_at,
            None if session.livemode is None else int(session.livemode),
            row_id,
        )

        def record(db: sqlite3.Connection) -> list[str]:
            db.execute(_MARK_OPEN, opened)
            superseded = db.execute(_SUPERSEDE_OTHERS, (now, session_id, row_id)).fetchall()
            return [stripe_id for (stripe_id,) in superseded if stripe_id]

        return await self._direct.write(record)


_LIVEMODE = StoredSession.__slots__.index("livemode")
_FULFILLED_AT = StoredSession.__slots__.index("fulfilled_at")


def _stored(row: tuple[Any, ...]) -> StoredSession:
    """A row in `_FIELDS` order, with the two columns sqlite3 returns untyped converted."""
    values = list(row)
    livemode = values[_LIVEMODE]
    values[_LIVEMODE] = None if livemode is None else bool(livemode)
    values[_FULFILLED_AT] = parse_datetime(values[_FULFILLED_AT])
    return StoredSession(*values)
