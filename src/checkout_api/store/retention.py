"""Retention: delete finished records older than a cut-off (`checkout-api purge`).

Finished means nothing will change them again: sessions that are complete (and fulfilled, or
never payable), expired or superseded; webhook events; delivered fulfillments. Open and
pending sessions and undelivered fulfillments are never purged, whatever their age.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, or_
from sqlalchemy.ext.asyncio import AsyncEngine

from checkout_api.store.tables import checkout_sessions, fulfillments, webhook_events

S = checkout_sessions


async def purge_finished(engine: AsyncEngine, older_than: datetime) -> dict[str, int]:
    finished = or_(
        S.c.state.in_(("expired", "superseded")),
        and_(
            S.c.state == "complete",
            or_(S.c.fulfilled_at.is_not(None), S.c.payment_status == "unpaid"),
        ),
    )
    async with engine.begin() as connection:
        sessions = await connection.execute(delete(S).where(finished, S.c.updated_at < older_than))
        events = await connection.execute(
            delete(webhook_events).where(webhook_events.c.received_at < older_than)
        )
        delivered = await connection.execute(
            delete(fulfillments).where(
                fulfillments.c.delivered_at.is_not(None), fulfillments.c.delivered_at < older_than
            )
        )
    return {
        "sessions": int(sessions.rowcount or 0),
        "webhook_events": int(events.rowcount or 0),
        "fulfillments": int(delivered.rowcount or 0),
    }
