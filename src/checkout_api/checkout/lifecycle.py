"""Sessions move forward on Stripe's word: from a webhook event or a status refresh.

Both paths go through `SessionLifecycle`, so a session paid on the return page before its
webhook lands is fulfilled once, by whichever path gets there first.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from checkout_api import metrics
from checkout_api.gateway import StripeSession
from checkout_api.gateway.webhooks import StripeEvent
from checkout_api.store.lifecycle import Applied, EventRecord, LifecycleStore, SessionNews

log = structlog.get_logger("checkout_api.checkout")

SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)


def news_from(session: StripeSession) -> SessionNews:
    return SessionNews(
        stripe_id=session.id,
        status=session.status,
        payment_status=session.payment_status,
        customer_email=session.customer_email,
        amount_total=session.amount_total,
        currency=session.currency,
    )


class SessionLifecycle:
    def __init__(self, store: LifecycleStore, *, on_fulfilled: Callable[[], None]) -> None:
        self._store = store
        self._on_fulfilled = on_fulfilled

    async def apply_event(self, event: StripeEvent) -> Applied | None:
        """None for a redelivery of an event already handled."""
        news = None
        if event.type in SESSION_EVENTS and event.object.get("object") == "checkout.session":
            news = news_from(StripeSession.from_stripe(event.object))
        record = EventRecord(
            id=event.id,
            type=event.type,
            created=event.created,
            livemode=event.livemode,
            object_id=news.stripe_id if news else _object_id(event),
            payload={"id": event.id, "type": event.type, "data": {"object": event.object}},
        )
        applied = await self._store.apply_event(record, news)
        if applied is not None and news is not None:
            self._announce(applied, news.stripe_id, source=event.type)
        if event.type == "checkout.session.async_payment_failed" and applied is not None:
            log.warning(
                "checkout.payment_failed", stripe_id=record.object_id, session_id=applied.session_id
            )
        return applied

    async def apply_refresh(self, session: StripeSession) -> Applied:
        applied = await self._store.apply_refresh(news_from(session))
        self._announce(applied, session.id, source="status_refresh")
        return applied

    def _announce(self, applied: Applied, stripe_id: str, *, source: str) -> None:
        if not applied.fulfilled_now:
            return
        metrics.FULFILLMENTS.inc()
        log.info(
            "checkout.fulfilled",
            session_id=applied.session_id,
            stripe_id=stripe_id,
            source=source,
        )
        self._on_fulfilled()


def _object_id(event: StripeEvent) -> str | None:
    value = event.object.get("id")
    return str(value)[:255] if value else None
