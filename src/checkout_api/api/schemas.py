"""Request and response bodies of the public API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

SESSION_ID_PATTERN = r"^[A-Za-z0-9\-_.:]{1,200}$"
STRIPE_SESSION_ID_PATTERN = r"^cs_(test|live)_[A-Za-z0-9]{1,250}$"

CallerSessionId = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=SESSION_ID_PATTERN)
]


class LineItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    price: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="One of the prices the operator allowlisted in CHECKOUT_PRICES."
    )
    quantity: Annotated[StrictInt, Field(ge=1, le=99)] = 1


class CheckoutSessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: CallerSessionId = Field(
        description="The shop's own visitor or cart session id (not a Stripe id): "
        "1-200 characters from letters, digits and -_.:",
        examples=["visitor-5f2b9c"],
    )
    items: list[LineItemIn] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Defaults to one unit of the first configured price.",
    )


class CheckoutSessionOut(BaseModel):
    id: str = Field(description="The Stripe Checkout Session id (cs_...).")
    client_secret: str = Field(description="Mounts Embedded Checkout. A credential: do not log.")
    clientSecret: str = Field(description="Same value; the field Stripe's quickstart client reads.")
    status: Literal["open", "complete", "expired"]
    expires_at: int = Field(description="Unix time when Stripe expires the session.")
    session_id: str = Field(description="The caller's session id, echoed.")


class SessionStatusOut(BaseModel):
    id: str
    status: Literal["open", "complete", "expired"]
    payment_status: str
    customer_email: str | None


class ProblemOut(BaseModel):
    """RFC 9457 problem details, as every error is rendered."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str | None = None
    instance: str | None = None
    errors: list[dict[str, str]] | None = None


class HealthOut(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
