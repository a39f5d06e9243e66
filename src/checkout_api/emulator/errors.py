"""Stripe's error responses: one exception carrying status, type, code, param and message.

    StripeError (status, type, code?, param?, message, extra headers)
      400 invalid_request_error   bad or unknown parameters, resource_missing (also 404)
      400 idempotency_error       key reused with other parameters or another endpoint
      401 invalid_request_error   no API key / invalid API key
      409 invalid_request_error   idempotency_key_in_use (a request with the key is in flight)
      429 invalid_request_error   rate_limit (header Stripe-Rate-Limited-Reason)
      5xx api_error               only from injected faults

The JSON body is Stripe's `{"error": {...}}`; fields that would be null are left out,
as Stripe does.
"""

from __future__ import annotations

import time
from typing import Any

DOC_URL = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An error answered in Stripe's JSON error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    def payload(self, request_id: str, livemode: bool) -> dict[str, Any]:
        err: dict[str, Any] = {}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = DOC_URL + self.code.replace("_", "-")
        err["message"] = self.message
        if self.param:
            err["param"] = self.param
        mode = "" if livemode else "test/"
        err["request_log_url"] = (
            f"https://dashboard.stripe.com/{mode}logs/{request_id}?t={int(time.time())}"
        )
        err["type"] = self.type
        return {"error": err}


def invalid(param: str | None, message: str, code: str | None = None) -> StripeError:
    return StripeError(400, message, code=code, param=param)


def unknown_parameter(param: str) -> StripeError:
    return invalid(param, f"Received unknown parameter: {param}", "parameter_unknown")


def missing_parameter(param: str) -> StripeError:
    return invalid(param, f"Missing required param: {param}.", "parameter_missing")


def invalid_enum(param: str, allowed: list[str]) -> StripeError:
    choices = ", ".join(allowed[:-1]) + f", or {allowed[-1]}" if len(allowed) > 1 else allowed[0]
    return invalid(param, f"Invalid {param}: must be one of {choices}", "parameter_invalid_enum")


def resource_missing(kind: str, ident: str, param: str, status: int = 400) -> StripeError:
    return StripeError(status, f"No such {kind}: '{ident}'", code="resource_missing", param=param)


def mask_key(key: str) -> str:
    """Stripe shows a key as its prefix, asterisks and the last four characters."""
    prefix = ""
    for candidate in ("sk_test_", "rk_test_", "sk_live_", "rk_live_", "pk_test_", "pk_live_"):
        if key.startswith(candidate):
            prefix = candidate
            break
    hidden = len(key) - len(prefix) - 4
    if hidden < 4:
        return prefix + "*" * max(len(key) - len(prefix), 4)
    return prefix + "*" * hidden + key[-4:]


def no_api_key() -> StripeError:
    return StripeError(
        401,
        "You did not provide an API key. You need to provide your API key in the Authorization "
        "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
        "https://stripe.com/docs/api#authentication for details, or we can help at "
        "https://support.stripe.com/.",
        headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
    )


def invalid_api_key(key: str) -> StripeError:
    return StripeError(
        401,
        f"Invalid API Key provided: {mask_key(key)}",
        headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
    )


def idempotency_mismatch(key: str, *, endpoint: str | None = None) -> StripeError:
    if endpoint is not None:
        message = (
            "Keys for idempotent requests can only be used for the same endpoint they were first "
            f"used for ({endpoint}). Try using a key other than '{key}' if you meant to execute "
            "a different request."
        )
    else:
        message = (
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request."
        )
    return StripeError(400, message, type="idempotency_error")


def idempotency_in_use(key: str) -> StripeError:
    return StripeError(
        409,
        "There is currently another in-progress request using this Idempotent Key (that probably "
        f"means you submitted twice, and the other request is still going through): {key}. "
        "Please try again later.",
        code="idempotency_key_in_use",
    )


def rate_limited() -> StripeError:
    return StripeError(
        429,
        "Request rate limit exceeded. You can learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        code="rate_limit",
        headers={"Stripe-Rate-Limited-Reason": "global-rate"},
    )
