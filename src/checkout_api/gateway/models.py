"""What the service keeps of a Stripe Checkout Session: a small frozen value, not an SDK object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StripeSession:
    id: str
    client_secret: str | None
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    amount_total: int | None
    currency: str | None
    expires_at: int
    livemode: bool
    created: int
    client_reference_id: str | None
    customer_email: str | None

    @classmethod
    def from_stripe(cls, obj: Mapping[str, Any] | Any) -> StripeSession:
        """Build from a Stripe `checkout.session`: an SDK object or a plain dict (events)."""
        get = _getter(obj)
        details = get("customer_details")
        return cls(
            id=get("id"),
            client_secret=get("client_secret"),
            status=get("status") or "open",
            payment_status=get("payment_status") or "unpaid",
            amount_total=get("amount_total"),
            currency=get("currency"),
            expires_at=int(get("expires_at") or 0),
            livemode=bool(get("livemode")),
            created=int(get("created") or 0),
            client_reference_id=get("client_reference_id"),
            customer_email=(_getter(details)("email") if details else None)
            or get("customer_email"),
        )

    def __repr__(self) -> str:  # the client secret is a credential: keep it out of reprs
        return f"StripeSession(id={self.id!r}, status={self.status!r})"


def _getter(obj: Any) -> Any:
    """`get` for dicts and for SDK objects (which index like dicts but have no `.get`)."""

    def get(name: str) -> Any:
        try:
            return obj[name]
        except KeyError:
            return None

    return get


@dataclass(frozen=True, slots=True)
class CreateSessionRequest:
    """The parameters of one Checkout Session create, built by the checkout domain."""

    line_items: tuple[tuple[str, int], ...]
    mode: str
    return_url: str
    client_reference_id: str
    idempotency_key: str

    def to_params(self) -> dict[str, Any]:
        return {
            "ui_mode": "embedded_page",
            "mode": self.mode,
            "line_items": [{"price": p, "quantity": q} for p, q in self.line_items],
            "return_url": self.return_url,
            "client_reference_id": self.client_reference_id,
            "metadata": {"session_id": self.client_reference_id},
        }
