"""The checkout hot path on SQLite, in hand-written SQL on the standard `sqlite3` module.

Why not SQLAlchemy here: on the aiosqlite driver every statement is several thread hops plus
SQLAlchemy's statement building and cache-key work. Measured on the benchmark machine
(docs/performance.md): 0.90 ms of CPU for `find_active` and 1.15 ms for `insert_pending`
through SQLAlchemy + aiosqlite, against 0.011 ms and 0.24 ms here. Those three queries are
most of a new session's cost, so they get this path; everything else (webhooks, status,
purge) stays on SQLAlchemy, and Alembic still owns the schema.

- Reads run inline on the event loop: in WAL mode a reader never waits for a writer, and an
  indexed lookup costs about 10 microseconds, less than a thread hop.
- Writes run on one writer thread per process (a thread hop each, one transaction per hop),
  so a busy lock held by another process blocks that thread, never the event loop.

The values written match what SQLAlchemy's SQLite dialect writes for the same columns
(datetimes as `YYYY-MM-DD HH:MM:SS.ffffff` UTC, booleans as 0/1), so both paths read each
other's rows; the tests run every store behaviour on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from checkout_api.gateway.models import StripeSession
from checkout_api.store.db import SQLITE_BUSY_TIMEOUT_MS
from checkout_api.store.sessions import SessionRepository, StoredSession

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
_SQLA_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
T = TypeVar("T")


class SqliteSessionRepository(SessionRepository):
    """`SessionRepository` with the create/reuse queries on plain `sqlite3`."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        database = make_url(engine.url).database
        if not database or database == ":memory:":
            raise ValueError("the SQLite hot path needs a database file")
        self._path = database
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._write_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-write")

    async def find_active(self, session_id: str, fingerprint: str) -> StoredSession | None:
        if self._reader is None:
            self._reader = _connect(self._path)
        row = self._reader.execute(_FIND_ACTIVE, (session_id, fingerprint)).fetchone()
        return _stored(row) if row else None

    async def insert_pending(
        self, session_id: str, fingerprint: str, idempotency_key: str, lease_expires_at: float
    ) -> int | None:
        now = _now()
        row = await self._write(
            lambda db: db.execute(
                _INSERT_PENDING,
                (session_id, fingerprint, idempotency_key, lease_expires_at, now, now),
            ).fetchone()
        )
        return int(row[0]) if row else None

    async def mark_open(
        self, row_id: int, session_id: str, session: StripeSession, client_secret_enc: bytes | None
    ) -> list[str]:
        now = _now()
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

        return await self._write(record)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await asyncio.get_running_loop().run_in_executor(self._write_thread, self._close_writer)
        self._write_thread.shutdown(wait=True)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` in one IMMEDIATE transaction on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._write_thread, self._transaction, work
        )

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            self._writer = _connect(self._path)
        db = self._writer
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _connect(path: str) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves; the pragmas match store/db.py.
    db = sqlite3.connect(
        path,
        timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def _now() -> str:
    return datetime.now(UTC).strftime(_SQLA_DATETIME)


def _stored(row: tuple[Any, ...]) -> StoredSession:
    values = list(row)
    livemode, fulfilled_at = values[12], values[15]
    values[12] = None if livemode is None else bool(livemode)
    values[15] = None if fulfilled_at is None else datetime.fromisoformat(fulfilled_at)
    return StoredSession(*values)
