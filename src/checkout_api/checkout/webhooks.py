"""Stripe webhook intake: verify, de-duplicate, apply. Nothing slow before the answer."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from checkout_api import metrics
from checkout_api.checkout.lifecycle import SessionLifecycle
from checkout_api.errors import WebhookNotConfigured, WebhookSignatureInvalid
from checkout_api.gateway.webhooks import verify_event

log = structlog.get_logger("checkout_api.webhook")


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    event_id: str
    duplicate: bool


class WebhookService:
    def __init__(self, lifecycle: SessionLifecycle, secrets: list[str], tolerance: int) -> None:
        self._lifecycle = lifecycle
        self._secrets = secrets
        self._tolerance = tolerance

    async def handle(self, payload: bytes, signature: str | None) -> WebhookOutcome:
        if not self._secrets:
            metrics.WEBHOOK_EVENTS.labels("unknown", "not_configured").inc()
            raise WebhookNotConfigured()
        try:
            event = verify_event(payload, signature, self._secrets, self._tolerance)
        except WebhookSignatureInvalid:
            metrics.WEBHOOK_EVENTS.labels("unknown", "bad_signature").inc()
            log.warning("webhook.rejected", reason="signature")
            raise
        try:
            applied = await self._lifecycle.apply_event(event)
        except Exception:
            metrics.WEBHOOK_EVENTS.labels(event.type, "error").inc()
            raise
        result = "duplicate" if applied is None else "handled"
        metrics.WEBHOOK_EVENTS.labels(event.type, result).inc()
        log.info(
            "webhook.received",
            event_id=event.id,
            event_type=event.type,
            result=result,
            stripe_id=event.object.get("id"),
        )
        return WebhookOutcome(event_id=event.id, duplicate=applied is None)
