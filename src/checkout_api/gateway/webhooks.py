"""Stripe webhook verification over the raw bytes, with several secrets for rotation.

The signature check is the SDK's own (`stripe.WebhookSignature.verify_header`: HMAC-SHA256,
constant-time compare, timestamp tolerance). Parsing is ours: a plain dict via orjson rather
than the SDK's `construct_event`, which builds an object tree we do not need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import stripe

from checkout_api.errors import WebhookSignatureInvalid


@dataclass(frozen=True, slots=True)
class StripeEvent:
    id: str
    type: str
    created: int
    livemode: bool
    object: dict[str, Any]


def verify_event(
    payload: bytes, header: str | None, secrets: list[str], tolerance: int
) -> StripeEvent:
    if not header:
        raise WebhookSignatureInvalid("The Stripe-Signature header is missing.")
    if not _signed_by_any(payload, header, secrets, tolerance):
        raise WebhookSignatureInvalid()
    try:
        event = orjson.loads(payload)
        data_object = event["data"]["object"]
        parsed = StripeEvent(
            id=str(event["id"]),
            type=str(event["type"]),
            created=int(event["created"]),
            livemode=bool(event.get("livemode", False)),
            object=data_object if isinstance(data_object, dict) else {},
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        # Signed by Stripe yet not an event: refuse rather than record half of it.
        raise WebhookSignatureInvalid("The signed payload is not a Stripe event.") from None
    if not parsed.id.startswith("evt_"):
        raise WebhookSignatureInvalid("The signed payload is not a Stripe event.")
    return parsed


def _signed_by_any(payload: bytes, header: str, secrets: list[str], tolerance: int) -> bool:
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
            return True
        except stripe.SignatureVerificationError:
            continue
        except (ValueError, IndexError, UnicodeDecodeError):  # malformed header or body
            return False
    return False
