"""Applying what Stripe says about a session, exactly once, whatever the delivery order.

One transaction per event: (1) merge the news into the session row, (2) record the event id
(primary key: a redelivery conflicts and the whole transaction is rolled back, changing
nothing), (3) claim fulfillment if the session is now paid, (4) queue the shop's hook.
The event is recorded only together with its effect: a failure rolls both back, and the 5xx
makes Stripe deliver again.

The merge is monotone, so out-of-order deliveries never move a session backwards:
- `status` only leaves `open` (open -> complete | expired), never returns to it;
- a paid (or no_payment_required) `payment_status` is never replaced;
- the customer's email and the amounts are only filled in, never cleared;
- a final status wipes the stored client secret.
Fulfillment is claimed by `UPDATE ... WHERE fulfilled_at IS NULL`: a row lock (PostgreSQL)
or the write lock (SQLite) makes exactly one concurrent transaction win.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import orjson
from sqlalchemy import case, func, literal, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from checkout_api.store.sessions import insert_ignoring_conflicts, now_utc
from checkout_api.store.tables import checkout_sessions, fulfillments, webhook_events

S = checkout_sessions
FULFILLABLE = ("paid", "no_payment_required")


@dataclass(frozen=True, slots=True)
class SessionNews:
    """What Stripe currently says about one Checkout Session."""

    stripe_id: str
    status: str
    payment_status: str
    customer_email: str | None
    amount_total: int | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    type: str
    created: int
    livemode: bool
    object_id: str | None
    payload: dict[str, object]


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of applying news. `session_id` is None when the store does not know it."""

    session_id: str | None
    status: str | None
    payment_status: str | None
    customer_email: str | None
    fulfilled_now: bool


UNKNOWN = Applied(None, None, None, None, fulfilled_now=False)


def is_fulfillable(applied: Applied) -> bool:
    """A known session that is now complete and paid (or needed no payment)."""
    return (
        applied.session_id is not None
        and applied.status == "complete"
        and applied.payment_status in FULFILLABLE
    )


class LifecycleStore:
    def __init__(self, engine: AsyncEngine, *, queue_fulfillment: bool) -> None:
        self._engine = engine
        self._queue = queue_fulfillment

    async def apply_event(self, event: EventRecord, news: SessionNews | None) -> Applied | None:
        """Apply one verified event; None when it was handled before (a redelivery)."""
        async with self._engine.connect() as connection:
            transaction = await connection.begin()
            try:
                applied = await self._merge(connection, news) if news else UNKNOWN
                result = "ignored" if news is None else "applied"
                if news is not None and applied.session_id is None:
                    result = "unknown_session"
                if not await self._record(connection, event, result):
                    await transaction.rollback()
                    return None
                applied = await self._fulfill_if_paid(connection, news, applied)
                await transaction.commit()
            except BaseException:
                await transaction.rollback()
                raise
        return applied

    async def apply_refresh(self, news: SessionNews) -> Applied:
        """Apply a status read from Stripe directly (the return page), same rules."""
        async with self._engine.begin() as connection:
            applied = await self._merge(connection, news)
            return await self._fulfill_if_paid(connection, news, applied)

    async def _merge(self, connection: AsyncConnection, news: SessionNews) -> Applied:
        final = news.status != "open"
        statement = (
            update(S)
            .where(S.c.stripe_id == news.stripe_id)
            .values(
                status=case((S.c.status == "open", literal(news.status)), else_=S.c.status),
                state=case((S.c.status == "open", literal(news.status)), else_=S.c.state)
                if final
                else S.c.state,
                payment_status=case(
                    (S.c.payment_status.in_(FULFILLABLE), S.c.payment_status),
                    else_=literal(news.payment_status),
                ),
                customer_email=func.coalesce(literal(news.customer_email), S.c.customer_email),
                amount_total=func.coalesce(literal(news.amount_total), S.c.amount_total),
                currency=func.coalesce(literal(news.currency), S.c.currency),
                client_secret_enc=None if final else S.c.client_secret_enc,
                updated_at=now_utc(),
            )
            .returning(S.c.session_id, S.c.status, S.c.payment_status, S.c.customer_email)
        )
        row = (await connection.execute(statement)).first()
        if row is None:
            return UNKNOWN
        return Applied(row[0], row[1], row[2], row[3], fulfilled_now=False)

    async def _record(self, connection: AsyncConnection, event: EventRecord, result: str) -> bool:
        statement = (
            insert_ignoring_conflicts(connection, webhook_events)
            .values(
                id=event.id,
                type=event.type,
                object_id=event.object_id,
                event_created=event.created,
                livemode=event.livemode,
                result=result,
                payload=orjson.dumps(event.payload).decode() if result != "applied" else None,
                received_at=now_utc(),
            )
            .returning(webhook_events.c.id)
        )
        return (await connection.execute(statement)).first() is not None

    async def _fulfill_if_paid(
        self, connection: AsyncConnection, news: SessionNews | None, applied: Applied
    ) -> Applied:
        if news is None or not is_fulfillable(applied):
            return applied
        claimed = await connection.execute(
            update(S)
            .where(S.c.stripe_id == news.stripe_id, S.c.fulfilled_at.is_(None))
            .values(fulfilled_at=now_utc())
        )
        if claimed.rowcount != 1:
            return applied
        if self._queue:
            await connection.execute(
                insert_ignoring_conflicts(connection, fulfillments).values(
                    stripe_id=news.stripe_id,
                    session_id=applied.session_id,
                    attempts=0,
                    next_attempt_at=time.time(),
                    created_at=now_utc(),
                )
            )
        return replace(applied, fulfilled_now=True)
