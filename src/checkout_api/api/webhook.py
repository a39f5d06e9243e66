"""POST /webhook: Stripe's signed event deliveries."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from checkout_api.api.body import read_limited
from checkout_api.api.checkout import problems
from checkout_api.api.state import services

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhook",
    summary="Receive a Stripe event (verified with STRIPE_WEBHOOK_SECRET)",
    responses={
        200: {"description": "Handled, or a redelivery of a handled event (no-op)."},
        **problems(400, 413, 500, 503),
    },
    openapi_extra={
        "parameters": [
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def receive_webhook(request: Request) -> Response:
    app = services(request)
    payload = await read_limited(request, app.settings.webhook_max_body_bytes)
    outcome = await app.webhooks.handle(payload, request.headers.get("stripe-signature"))
    body = {"received": True, "event_id": outcome.event_id, "duplicate": outcome.duplicate}
    return Response(orjson.dumps(body), media_type="application/json")
