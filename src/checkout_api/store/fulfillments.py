"""Repository for the `fulfillments` outbox: due rows are claimed with a lease, then settled."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from checkout_api.store.sessions import now_utc
from checkout_api.store.tables import checkout_sessions, fulfillments

F = fulfillments
S = checkout_sessions


@dataclass(frozen=True, slots=True)
class DueFulfillment:
    stripe_id: str
    session_id: str
    attempts: int
    amount_total: int | None
    currency: str | None
    customer_email: str | None


class FulfillmentRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim_due(self, *, limit: int, lease_seconds: float) -> list[DueFulfillment]:
        """Due rows this caller now owns for `lease_seconds` (other workers skip them)."""
        now = time.time()
        query = (
            select(F.c.stripe_id, F.c.next_attempt_at)
            .where(F.c.delivered_at.is_(None), F.c.next_attempt_at <= now)
            .order_by(F.c.next_attempt_at)
            .limit(limit)
        )
        claimed: list[str] = []
        async with self._engine.begin() as connection:
            for stripe_id, seen in (await connection.execute(query)).all():
                won = await connection.execute(
                    update(F)
                    .where(F.c.stripe_id == stripe_id, F.c.next_attempt_at == seen)
                    .values(next_attempt_at=now + lease_seconds)
                )
                if won.rowcount == 1:
                    claimed.append(stripe_id)
            if not claimed:
                return []
            rows = await connection.execute(
                select(
                    F.c.stripe_id,
                    F.c.session_id,
                    F.c.attempts,
                    S.c.amount_total,
                    S.c.currency,
                    S.c.customer_email,
                )
                .select_from(F.outerjoin(S, S.c.stripe_id == F.c.stripe_id))
                .where(F.c.stripe_id.in_(claimed))
            )
            return [DueFulfillment(*row) for row in rows.all()]

    async def mark_delivered(self, stripe_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(F)
                .where(F.c.stripe_id == stripe_id)
                .values(delivered_at=now_utc(), attempts=F.c.attempts + 1, last_error=None)
            )

    async def mark_failed(self, stripe_id: str, *, retry_at: float, error: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(F)
                .where(and_(F.c.stripe_id == stripe_id, F.c.delivered_at.is_(None)))
                .values(next_attempt_at=retry_at, attempts=F.c.attempts + 1, last_error=error[:200])
            )

    async def pending_count(self) -> int:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(F.c.stripe_id).where(F.c.delivered_at.is_(None)))
            return len(rows.all())
