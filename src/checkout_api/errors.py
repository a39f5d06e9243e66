"""The service's error tree. Every error a caller can see is a `ProblemError` with a stable code.

    ProblemError (500 internal_error)
    ├── RequestValidationFailed (422 validation_failed)
    ├── NotFound (404 not_found)
    ├── UnsupportedMediaType (415 unsupported_media_type)
    ├── PayloadTooLarge (413 payload_too_large)
    ├── RateLimited (429 rate_limited)
    ├── CardDataRejected (422 card_data_rejected)
    ├── WebhookSignatureInvalid (400 webhook_signature_invalid)
    ├── WebhookNotConfigured (503 webhook_not_configured)
    ├── ServiceDraining (503 service_draining)
    ├── CheckoutInProgress (503 checkout_in_progress)
    ├── DeadlineExceeded (504 deadline_exceeded)
    └── UpstreamError: the Stripe side failed; the caller did nothing wrong
        ├── StripeMisconfigured (502 stripe_invalid_request)
        ├── StripeAuthFailed (502 stripe_authentication)
        ├── StripeFailed (502 stripe_error)
        ├── StripeRateLimited (503 stripe_rate_limited)
        ├── StripeCircuitOpen (503 stripe_circuit_open)
        └── StripeUnreachable (504 stripe_unreachable)

The HTTP layer renders each as RFC 9457 `application/problem+json` (see `api/problems.py`).
`detail` is our own wording: Stripe's raw message never reaches a caller.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ProblemError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"
    default_detail: ClassVar[str] = "The service failed to handle the request."

    def __init__(
        self,
        detail: str | None = None,
        *,
        retry_after: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.retry_after = retry_after
        self.extra = extra or {}
        super().__init__(self.detail)


class RequestValidationFailed(ProblemError):
    status = 422
    code = "validation_failed"
    title = "Invalid request"
    default_detail = "The request body or query failed validation."


class NotFound(ProblemError):
    status = 404
    code = "not_found"
    title = "Not found"
    default_detail = "No such resource."


class UnsupportedMediaType(ProblemError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"
    default_detail = "Send the body as application/json."


class PayloadTooLarge(ProblemError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"
    default_detail = "The request body is larger than this service accepts."


class RateLimited(ProblemError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"
    default_detail = "Too many requests; retry after the given number of seconds."


class CardDataRejected(ProblemError):
    status = 422
    code = "card_data_rejected"
    title = "Card data is not accepted here"
    default_detail = (
        "The request looks like it carries a card number. Card data is entered only in "
        "Stripe's form and never sent to this service."
    )


class WebhookSignatureInvalid(ProblemError):
    status = 400
    code = "webhook_signature_invalid"
    title = "Invalid webhook signature"
    default_detail = "The Stripe-Signature header is missing, malformed, stale or wrong."


class WebhookNotConfigured(ProblemError):
    status = 503
    code = "webhook_not_configured"
    title = "Webhooks not configured"
    default_detail = "No webhook signing secret is configured; events are refused."


class ServiceDraining(ProblemError):
    status = 503
    code = "service_draining"
    title = "Shutting down"
    default_detail = "This instance is shutting down; retry on another."


class CheckoutInProgress(ProblemError):
    status = 503
    code = "checkout_in_progress"
    title = "Checkout being created"
    default_detail = "Another request is creating this checkout session; retry shortly."


class DeadlineExceeded(ProblemError):
    status = 504
    code = "deadline_exceeded"
    title = "Request took too long"
    default_detail = "The request could not be completed within its time budget; retry shortly."


class UpstreamError(ProblemError):
    """Stripe failed or could not be reached; never the caller's fault."""

    status = 502
    code = "stripe_error"
    title = "Payment provider error"
    default_detail = "Stripe could not complete the request."


class StripeMisconfigured(UpstreamError):
    code = "stripe_invalid_request"
    title = "Payment provider rejected our request"
    default_detail = "Stripe rejected the request this service built; the operator was alerted."


class StripeAuthFailed(UpstreamError):
    code = "stripe_authentication"
    title = "Payment provider refused our credentials"
    default_detail = "Stripe refused this service's credentials; the operator was alerted."


class StripeFailed(UpstreamError):
    code = "stripe_error"


class StripeRateLimited(UpstreamError):
    status = 503
    code = "stripe_rate_limited"
    title = "Payment provider is busy"
    default_detail = "Stripe is rate limiting this service; retry shortly."


class StripeCircuitOpen(UpstreamError):
    status = 503
    code = "stripe_circuit_open"
    title = "Payment provider unavailable"
    default_detail = "Stripe has been failing; requests are paused briefly. Retry shortly."


class StripeUnreachable(UpstreamError):
    status = 504
    code = "stripe_unreachable"
    title = "Payment provider did not answer"
    default_detail = "Stripe did not answer in time; retry shortly."


ALL_PROBLEMS: tuple[type[ProblemError], ...] = (
    ProblemError,
    RequestValidationFailed,
    NotFound,
    UnsupportedMediaType,
    PayloadTooLarge,
    RateLimited,
    CardDataRejected,
    WebhookSignatureInvalid,
    WebhookNotConfigured,
    ServiceDraining,
    CheckoutInProgress,
    DeadlineExceeded,
    StripeMisconfigured,
    StripeAuthFailed,
    StripeFailed,
    StripeRateLimited,
    StripeCircuitOpen,
    StripeUnreachable,
)
