"""Webhook intake on SQLite: the whole event transaction in one hop (sqlite_direct.py says why).

The SQL mirrors the SQLAlchemy statements in lifecycle.py (same monotone merge, same
insert-if-absent of the event id, same fulfillment claim); the tests run every lifecycle
behaviour on SQLite and on PostgreSQL, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from checkout_api.store.lifecycle import (
    UNKNOWN,
    Applied,
    EventRecord,
    LifecycleStore,
    SessionNews,
    is_fulfillable,
)
from checkout_api.store.sqlite_direct import SqliteDirect, now_text

# All SET expressions read the row as it was before the update (SQL semantics).
_MERGE = """
UPDATE checkout_sessions SET
  status = CASE WHEN status = 'open' THEN :status ELSE status END,
  state = CASE WHEN :final AND status = 'open' THEN :status ELSE state END,
  payment_status = CASE WHEN payment_status IN ('paid', 'no_payment_required')
                   THEN payment_status ELSE :payment_status END,
  customer_email = coalesce(:customer_email, customer_email),
  amount_total = coalesce(:amount_total, amount_total),
  currency = coalesce(:currency, currency),
  client_secret_enc = CASE WHEN :final THEN NULL ELSE client_secret_enc END,
  updated_at = :now
WHERE stripe_id = :stripe_id
RETURNING session_id, status, payment_status, customer_email
"""
_RECORD_EVENT = """
INSERT INTO webhook_events
  (id, type, object_id, event_created, livemode, result, payload, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING RETURNING id
"""
_CLAIM_FULFILLMENT = (
    "UPDATE checkout_sessions SET fulfilled_at = ? WHERE stripe_id = ? AND fulfilled_at IS NULL"
)
_QUEUE_FULFILLMENT = """
INSERT INTO fulfillments (stripe_id, session_id, attempts, next_attempt_at, created_at)
VALUES (?, ?, 0, ?, ?) ON CONFLICT DO NOTHING
"""


class SqliteLifecycleStore(LifecycleStore):
    """`LifecycleStore` whose webhook path runs on `SqliteDirect`."""

    def __init__(
        self, engine: AsyncEngine, direct: SqliteDirect, *, queue_fulfillment: bool
    ) -> None:
        super().__init__(engine, queue_fulfillment=queue_fulfillment)
        self._direct = direct

    async def apply_event(self, event: EventRecord, news: SessionNews | None) -> Applied | None:
        now = now_text()

        def apply(db: sqlite3.Connection) -> Applied | None:
            applied = self._merge_sync(db, news, now) if news else UNKNOWN
            result = "ignored" if news is None else "applied"
            if news is not None and applied.session_id is None:
                result = "unknown_session"
            payload = orjson.dumps(event.payload).decode() if result != "applied" else None
            recorded = db.execute(
                _RECORD_EVENT,
                (
                    event.id,
                    event.type,
                    event.object_id,
                    event.created,
                    int(event.livemode),
                    result,
                    payload,
                    now,
                ),
            ).fetchone()
            if recorded is None:
                raise _Redelivery  # rolls the merge back: a redelivery changes nothing
            return self._fulfill_sync(db, news, applied, now)

        try:
            return await self._direct.write(apply)
        except _Redelivery:
            return None

    @staticmethod
    def _merge_sync(db: sqlite3.Connection, news: SessionNews, now: str) -> Applied:
        row = db.execute(
            _MERGE,
            {
                "status": news.status,
                "final": int(news.status != "open"),
                "payment_status": news.payment_status,
                "customer_email": news.customer_email,
                "amount_total": news.amount_total,
                "currency": news.currency,
                "now": now,
                "stripe_id": news.stripe_id,
            },
        ).fetchone()
        if row is None:
            return UNKNOWN
        return Applied(row[0], row[1], row[2], row[3], fulfilled_now=False)

    def _fulfill_sync(
        self, db: sqlite3.Connection, news: SessionNews | None, applied: Applied, now: str
    ) -> Applied:
        if news is None or not is_fulfillable(applied):
            return applied
        claimed = db.execute(_CLAIM_FULFILLMENT, (now, news.stripe_id)).rowcount
        if claimed != 1:
            return applied
        if self._queue:
            assert applied.session_id is not None
            db.execute(_QUEUE_FULFILLMENT, (news.stripe_id, applied.session_id, time.time(), now))
        return replace(applied, fulfilled_now=True)


class _Redelivery(Exception):
    """Internal: the event id was recorded before; roll back."""
