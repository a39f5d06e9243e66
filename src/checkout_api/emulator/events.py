"""Webhook events: build a Stripe `event` around a session, sign it, deliver it.

The payload is the exact JSON text that is signed and POSTed; the control API hands back
the event, that text and the `Stripe-Signature` value so tests can replay the delivery.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import aiohttp

from checkout_api.emulator.pricing import random_id
from checkout_api.emulator.sessions import session_object
from checkout_api.emulator.signing import sign
from checkout_api.emulator.state import EmulatorState, SessionRecord

logger = logging.getLogger(__name__)
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def build_event(
    event_type: str,
    record: SessionRecord,
    *,
    pending_webhooks: int,
    request_id: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    return {
        "id": random_id("evt_"),
        "object": "event",
        "api_version": record.api_version,
        "created": int(time.time()),
        "data": {"object": session_object(record)},
        "livemode": record.fields["livemode"],
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }


async def deliver(
    state: EmulatorState, url: str, payload: str, signature: str | None
) -> int | None:
    """POST the payload as Stripe does; the answer's status, or None when none came back."""
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    try:
        async with state.client().post(url, data=payload.encode(), headers=headers) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        logger.warning("webhook delivery to %s failed: %r", url, exc)
        return None


async def emit(
    state: EmulatorState,
    event_type: str,
    record: SessionRecord,
    *,
    secret: str | None = None,
    deliver_to: str | None = None,
    request_id: str | None = None,
    idempotency_key: str | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """Record an event; sign it; deliver it (awaited, or in the background when `wait` is off)."""
    secret = secret or state.config.webhook_secret
    url = deliver_to or state.config.webhook_url
    event = build_event(
        event_type,
        record,
        pending_webhooks=1 if url else 0,
        request_id=request_id,
        idempotency_key=idempotency_key,
    )
    state.events.append(event)
    payload = json.dumps(event, indent=2)
    signature = sign(payload.encode(), secret) if secret else None
    answer: dict[str, Any] = {"event": event, "payload": payload, "signature": signature}
    if url:
        if wait:
            answer["delivery_status"] = await deliver(state, url, payload, signature)
        else:
            state.spawn(deliver(state, url, payload, signature))
    return answer
