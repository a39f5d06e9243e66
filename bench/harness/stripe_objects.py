"""Stripe-shaped objects for the benchmark: checkout.session JSON, webhook events, signatures.

The static part of a session comes from `checkout_session_static.json`, derived from the
`checkout.session` fixture of Stripe's public OpenAPI fixtures (see /work/shared/stripe) with the
placeholder values made coherent for an open `embedded_page` payment session. It is serialised
once; each response only serialises the fields that vary (id, client_secret, status, ...).

Webhook signatures follow Stripe's scheme: header `t=<unix>,v1=<hex>` where
`hex = HMAC-SHA256(secret, f"{t}.{body}")`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from pathlib import Path

API_VERSION = "2026-10-28.endive"
UNIT_AMOUNT = 2000
SESSION_TTL_SECONDS = 24 * 3600
_STATIC = json.loads((Path(__file__).with_name("checkout_session_static.json")).read_text())
_STATIC_JSON = json.dumps(_STATIC, separators=(",", ":"))[1:-1]


def random_token(length: int) -> str:
    """Random alphanumeric (hex) string, like the tails of Stripe ids; cheap enough per request."""
    return os.urandom((length + 1) // 2).hex()[:length]


def new_session(params: dict[str, str], session_id: str, now: int) -> dict[str, object]:
    """The varying fields of a new open session built from form params (`line_items[0][...]`)."""
    quantity = int(params.get("line_items[0][quantity]", "1") or 1)
    metadata = {
        key[9:-1]: value
        for key, value in params.items()
        if key.startswith("metadata[") and key.endswith("]")
    }
    ui_mode = params.get("ui_mode", "hosted_page")
    return {
        "id": session_id,
        "object": "checkout.session",
        "client_secret": f"{session_id}_secret_{random_token(24)}",
        "client_reference_id": params.get("client_reference_id"),
        "created": now,
        "expires_at": now + SESSION_TTL_SECONDS,
        "status": "open",
        "payment_status": "unpaid",
        "mode": params.get("mode", "payment"),
        "ui_mode": ui_mode,
        "return_url": params.get("return_url"),
        "url": None
        if ui_mode != "hosted_page"
        else f"https://checkout.stripe.com/c/pay/{session_id}",
        "metadata": metadata,
        "customer": None,
        "customer_email": params.get("customer_email"),
        "currency": "usd",
        "amount_subtotal": UNIT_AMOUNT * quantity,
        "amount_total": UNIT_AMOUNT * quantity,
    }


def session_json(fields: dict[str, object]) -> str:
    """Serialise a full checkout.session: the varying fields plus the pre-serialised rest."""
    return "{" + json.dumps(fields, separators=(",", ":"))[1:-1] + "," + _STATIC_JSON + "}"


def completed(fields: dict[str, object]) -> dict[str, object]:
    """A copy of a session's fields as Stripe reports it after a successful payment."""
    return {
        **fields,
        "status": "complete",
        "payment_status": "paid",
        "customer_email": fields.get("customer_email") or "buyer@example.com",
    }


SLOT_MARKERS = {"\x01": "n", "\x02": "sid", "\x03": "ref"}


def event_template(run_tag: str) -> tuple[list[str], list[str]]:
    """A `checkout.session.completed` event body as literal chunks around named slots.

    body = chunks[0] + v(slots[0]) + chunks[1] + ... + chunks[-1], where slot `n` is the event
    number (event id `evt_bench<tag>_<n>`), `sid` the session id and `ref` its
    client_reference_id. The wrk Lua script rebuilds bodies the same way.
    """
    fields = completed(
        new_session(
            {
                "client_reference_id": "\x03",
                "ui_mode": "embedded_page",
                "mode": "payment",
                "return_url": "http://127.0.0.1/return?session_id={CHECKOUT_SESSION_ID}",
            },
            "\x02",
            1_700_000_000,
        )
    )
    fields["client_secret"] = None
    event = {
        "id": f"evt_bench{run_tag}_\x01",
        "object": "event",
        "api_version": API_VERSION,
        "created": 1_700_000_000,
        "data": {"object": "\x04"},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }
    text = json.dumps(event, separators=(",", ":")).replace('"\\u0004"', session_json(fields))
    for marker in SLOT_MARKERS:
        text = text.replace(json.dumps(marker)[1:-1], marker)
    pieces = re.split("([\x01-\x03])", text)
    return pieces[0::2], [SLOT_MARKERS[m] for m in pieces[1::2]]


def event_body(chunks: list[str], slots: list[str], values: dict[str, str]) -> bytes:
    """Fill an `event_template` with values for `n`, `sid` and `ref`."""
    out = [chunks[0]]
    for slot, chunk in zip(slots, chunks[1:], strict=True):
        out.append(values[slot])
        out.append(chunk)
    return "".join(out).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `v1` hex digest Stripe puts in the Stripe-Signature header."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
