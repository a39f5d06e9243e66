"""Stripe webhook signatures: the one signing helper the emulator and the tests share.

Stripe's scheme: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Return the `Stripe-Signature` header value for `payload` signed with `secret`."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    signed = str(t).encode() + b"." + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"
