"""POST /checkoutsession and GET /session-status: thin handlers over the checkout domain."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from checkout_api.api.body import documented_json_body, read_json_model
from checkout_api.api.schemas import (
    STRIPE_SESSION_ID_PATTERN,
    CheckoutSessionIn,
    CheckoutSessionOut,
    ProblemOut,
    SessionStatusOut,
)
from checkout_api.api.state import services
from checkout_api.checkout.cart import build_cart
from checkout_api.gateway import Deadline

router = APIRouter(tags=["checkout"])


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ProblemOut, "content": {"application/problem+json": {}}}
        for status in statuses
    }


@router.post(
    "/checkoutsession",
    status_code=201,
    response_model=CheckoutSessionOut,
    summary="Create (or reuse) a Checkout Session for the caller's session id",
    responses={
        200: {"model": CheckoutSessionOut, "description": "An open session was reused."},
        **problems(413, 415, 422, 429, 502, 503, 504),
    },
    openapi_extra=documented_json_body(CheckoutSessionIn),
)
async def create_checkout_session(request: Request) -> Response:
    app = services(request)
    await app.limits.check_request(request)
    body = await read_json_model(request, CheckoutSessionIn, app.settings.max_body_bytes)
    structlog.contextvars.bind_contextvars(session_id=body.session_id)
    items = [(item.price, item.quantity) for item in body.items] if body.items else None
    cart = build_cart(items, app.settings.checkout_prices)
    handed = await app.checkout.create_or_reuse(
        body.session_id, cart, Deadline(app.settings.checkout_deadline_seconds)
    )
    payload = {
        "id": handed.stripe_id,
        "client_secret": handed.client_secret,
        "clientSecret": handed.client_secret,
        "status": handed.status,
        "expires_at": handed.expires_at,
        "session_id": body.session_id,
    }
    return Response(
        orjson.dumps(payload), 201 if handed.created else 200, media_type="application/json"
    )


@router.get(
    "/session-status",
    response_model=SessionStatusOut,
    summary="The state of a Checkout Session, for the return page",
    responses=problems(404, 422, 502, 503, 504),
)
async def session_status(
    request: Request,
    session_id: Annotated[str, Query(pattern=STRIPE_SESSION_ID_PATTERN, max_length=255)],
) -> Response:
    app = services(request)
    status = await app.status.get(session_id, Deadline(app.settings.checkout_deadline_seconds))
    payload = {
        "id": status.stripe_id,
        "status": status.status,
        "payment_status": status.payment_status,
        "customer_email": status.customer_email,
    }
    return Response(orjson.dumps(payload), media_type="application/json")
