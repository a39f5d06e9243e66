"""Session status for the return page: the store when final, Stripe otherwise.

A refresh that finds the session paid is applied through `SessionLifecycle`, the same
exactly-once path as the webhook: customers often reach the return page first.
"""

from __future__ import annotations

from dataclasses import dataclass

from checkout_api.checkout.lifecycle import SessionLifecycle
from checkout_api.errors import NotFound
from checkout_api.gateway import Deadline, StripeGateway
from checkout_api.store.sessions import SessionRepository


@dataclass(frozen=True, slots=True)
class SessionStatus:
    stripe_id: str
    status: str
    payment_status: str
    customer_email: str | None


class StatusService:
    def __init__(
        self, *, gateway: StripeGateway, sessions: SessionRepository, lifecycle: SessionLifecycle
    ) -> None:
        self._gateway = gateway
        self._sessions = sessions
        self._lifecycle = lifecycle

    async def get(self, stripe_id: str, deadline: Deadline) -> SessionStatus:
        stored = await self._sessions.find_by_stripe_id(stripe_id)
        if stored is not None and stored.status and _settled(stored.status, stored.payment_status):
            return SessionStatus(
                stripe_id=stripe_id,
                status=stored.status,
                payment_status=stored.payment_status or "unpaid",
                customer_email=stored.customer_email,
            )
        session = await self._gateway.retrieve_session(stripe_id, deadline)
        if session is None:
            raise NotFound("No such checkout session.")
        if stored is None:  # not ours (or purged): report Stripe's view, record nothing
            return SessionStatus(
                session.id, session.status, session.payment_status, session.customer_email
            )
        applied = await self._lifecycle.apply_refresh(session)
        return SessionStatus(
            stripe_id=session.id,
            status=applied.status or session.status,
            payment_status=applied.payment_status or session.payment_status,
            customer_email=applied.customer_email or session.customer_email,
        )


def _settled(status: str | None, payment_status: str | None) -> bool:
    """Final for good; a complete session awaiting a delayed payment may still change."""
    return status == "expired" or (status == "complete" and payment_status != "unpaid")
