"""Liveness, readiness and metrics."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.responses import Response

from checkout_api import metrics
from checkout_api.api.schemas import HealthOut
from checkout_api.api.state import services

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness: the process answers")
async def healthz() -> Response:
    return Response(b'{"status":"ok","checks":{}}', media_type="application/json")


@router.get(
    "/readyz",
    response_model=HealthOut,
    summary="Readiness: configuration loaded, Stripe client and database ready",
    responses={503: {"model": HealthOut, "description": "Not ready (draining or store down)."}},
)
async def readyz(request: Request) -> Response:
    app = services(request)
    checks: dict[str, str] = {"config": "ok", "stripe_client": "ok"}
    ready = True
    try:
        async with app.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unreachable ({type(error).__name__})"
        ready = False
    checks["stripe_circuit"] = app.gateway.breaker.state
    # Reported, not gating: the limits fail open, and every instance shares the storage.
    checks["rate_limit_storage"] = (
        "ok" if await app.limits.healthy() else "unreachable (limits failing open)"
    )
    checks["webhooks"] = (
        "ok" if app.settings.webhook_secrets else "refusing events: STRIPE_WEBHOOK_SECRET not set"
    )
    if app.draining:
        checks["lifecycle"] = "draining"
        ready = False
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return Response(orjson.dumps(body), 200 if ready else 503, media_type="application/json")


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint() -> Response:
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
