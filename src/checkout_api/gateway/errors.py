"""The one closed table from Stripe SDK errors to the service's problems.

| SDK error                              | our code                | status | log level |
|----------------------------------------|-------------------------|--------|-----------|
| InvalidRequestError (400/404)          | stripe_invalid_request  | 502    | error     |
| IdempotencyError                       | stripe_invalid_request  | 502    | error     |
| AuthenticationError, PermissionError   | stripe_authentication   | 502    | critical  |
| RateLimitError (429)                   | stripe_rate_limited     | 503    | warning   |
| APIConnectionError, attempt timeout    | stripe_unreachable      | 504    | warning   |
| APIError (5xx, 409) and anything else  | stripe_error            | 502    | error     |

An invalid request is our fault, not the caller's (the caller never chooses Stripe parameters
beyond the allowlisted prices), hence 502 and an operator alert rather than a 400.
Stripe's own message is logged, never returned: it can echo parameters.
"""

from __future__ import annotations

import stripe

from checkout_api.errors import (
    StripeAuthFailed,
    StripeFailed,
    StripeMisconfigured,
    StripeRateLimited,
    StripeUnreachable,
    UpstreamError,
)

RETRYABLE_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


def header(error: stripe.StripeError, name: str) -> str | None:
    headers = error.headers or {}
    value = headers.get(name) or headers.get(name.lower())
    return str(value) if value is not None else None


def is_retryable(error: BaseException) -> bool:
    """Connection failures, timeouts, 409 lock conflicts, 429 and 5xx; Stripe's hint wins."""
    if isinstance(error, TimeoutError | stripe.APIConnectionError):
        return True
    if not isinstance(error, stripe.StripeError):
        return False
    hint = header(error, "Stripe-Should-Retry")
    if hint is not None:
        return hint.lower() == "true"
    return error.http_status in RETRYABLE_STATUSES


def retry_after_seconds(error: BaseException) -> float | None:
    if not isinstance(error, stripe.StripeError):
        return None
    value = header(error, "Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify(error: BaseException) -> tuple[UpstreamError, str]:
    """The problem to answer with, and the log level the failure deserves."""
    if isinstance(error, TimeoutError | stripe.APIConnectionError):
        return StripeUnreachable(retry_after=1), "warning"
    if isinstance(error, stripe.RateLimitError):
        seconds = retry_after_seconds(error)
        return StripeRateLimited(retry_after=max(1, int(seconds or 1))), "warning"
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return StripeAuthFailed(), "critical"
    if isinstance(error, stripe.InvalidRequestError | stripe.IdempotencyError):
        return StripeMisconfigured(), "error"
    return StripeFailed(), "error"
