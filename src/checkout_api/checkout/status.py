"""Session status for the return page."""

from __future__ import annotations

from dataclasses import dataclass

from checkout_api.errors import NotFound
from checkout_api.gateway import Deadline, StripeGateway


@dataclass(frozen=True, slots=True)
class SessionStatus:
    stripe_id: str
    status: str
    payment_status: str
    customer_email: str | None


class StatusService:
    def __init__(self, *, gateway: StripeGateway) -> None:
        self._gateway = gateway

    async def get(self, stripe_id: str, deadline: Deadline) -> SessionStatus:
        session = await self._gateway.retrieve_session(stripe_id, deadline)
        if session is None:
            raise NotFound("No such checkout session.")
        return SessionStatus(
            stripe_id=session.id,
            status=session.status,
            payment_status=session.payment_status,
            customer_email=session.customer_email,
        )
