"""The one place that talks to Stripe: an async `StripeClient` on one pooled aiohttp session.

Why `stripe.AIOHTTPClient` over the SDK's default `HTTPXClient`: with httpcore 1.0.9 the httpx
pool closes idle connections once more than 20 exist, so at 100 concurrent calls nearly every
request opens a new connection (a TLS handshake each time against real Stripe). aiohttp's
connector keeps them alive; `tests/gateway/test_pooling.py` measures connections per request.

Calls go through the SDK's `raw_request_async`: the same requestor (authentication,
Stripe-Version, Idempotency-Key, form encoding, error classes) without building a
`StripeObject` tree from each response, which cost 1.3 ms of CPU per create here
(docs/performance.md); we read the few fields we need from the parsed JSON instead.
The create, made for every new session, takes a leaner path on the SDK's own parts
(`lean_create.py` says what it keeps and what it saves).

Retries are ours, not the SDK's (`max_network_retries=0`): the SDK's backoff does not know the
request's deadline. `with_retries` retries transient failures with the same Idempotency-Key,
full-jitter exponential backoff, `Retry-After` and `Stripe-Should-Retry`, only while the
deadline leaves room for another attempt.

Before each attempt the call takes a slot from the `StripeThrottle` (fair FIFO queueing under
Stripe's request rate; refused at once when the deadline cannot cover the wait), and the
`CircuitBreaker` fails whole operations fast while Stripe keeps failing.

Tuning (Settings): STRIPE_MAX_REQUESTS_PER_SECOND (0: off),
STRIPE_MAX_BURST (5), STRIPE_BREAKER_FAILURE_THRESHOLD (5), STRIPE_BREAKER_RESET_SECONDS (5).
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import stripe
import structlog

from checkout_api import metrics
from checkout_api.config import Settings
from checkout_api.errors import DeadlineExceeded, StripeCircuitOpen, StripeRateLimited
from checkout_api.gateway.breaker import HALF_OPEN, CircuitBreaker
from checkout_api.gateway.deadline import Deadline
from checkout_api.gateway.errors import classify, is_retryable, retry_after_seconds
from checkout_api.gateway.lean_create import SESSIONS_PATH, LeanCreate
from checkout_api.gateway.models import CreateSessionRequest, StripeSession
from checkout_api.gateway.throttle import StripeThrottle

T = TypeVar("T")
log = structlog.get_logger("checkout_api.stripe")

MIN_ATTEMPT_SECONDS = 0.15  # not worth starting an attempt with less time than this
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 1.0
POOL_SIZE = 200


def quiet_sdk_logger() -> None:
    """At DEBUG the SDK logs response bodies, client secrets included: never let it."""
    logging.getLogger("stripe").setLevel(logging.WARNING)


class StripeGateway:
    def __init__(
        self,
        settings: Settings,
        *,
        breaker: CircuitBreaker | None = None,
        throttle: StripeThrottle | None = None,
    ) -> None:
        """`breaker` and `throttle` default to ones built from `settings`."""
        quiet_sdk_logger()
        self._attempt_timeout = settings.stripe_attempt_timeout_seconds
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=POOL_SIZE,
                keepalive_timeout=60,
                ssl=ssl.create_default_context(cafile=stripe.ca_bundle_path),
            ),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        http_client = stripe.AIOHTTPClient(
            session=self._session,
            timeout=aiohttp.ClientTimeout(total=self._attempt_timeout),
            proxy=settings.https_proxy,
        )
        self._client = stripe.StripeClient(
            settings.stripe_secret_key.get_secret_value(),
            base_addresses={"api": settings.stripe_api_base},
            http_client=http_client,
            max_network_retries=0,
        )
        self._create = LeanCreate(self._client, http_client, settings.stripe_api_base)
        self.breaker = breaker or CircuitBreaker(
            failure_threshold=settings.stripe_breaker_failure_threshold,
            reset_after_seconds=settings.stripe_breaker_reset_seconds,
            on_change=metrics.set_breaker_state,
        )
        metrics.set_breaker_state(self.breaker.state)
        self.throttle = throttle or _throttle_from(settings)

    async def close(self) -> None:
        await self._session.close()

    async def create_session(
        self, request: CreateSessionRequest, deadline: Deadline
    ) -> StripeSession:
        params = request.to_params()
        response = await self.with_retries(
            "checkout.sessions.create",
            lambda: self._create(params, request.idempotency_key),
            deadline,
        )
        return StripeSession.from_stripe(response.data)

    async def retrieve_session(self, stripe_id: str, deadline: Deadline) -> StripeSession | None:
        try:
            response = await self.with_retries(
                "checkout.sessions.retrieve",
                lambda: self._client.raw_request_async("get", f"{SESSIONS_PATH}/{stripe_id}"),
                deadline,
                missing_ok=True,
            )
        except _Missing:
            return None
        return StripeSession.from_stripe(response.data)

    async def expire_session(self, stripe_id: str, deadline: Deadline) -> StripeSession:
        response = await self.with_retries(
            "checkout.sessions.expire",
            lambda: self._client.raw_request_async(
                "post",
                f"{SESSIONS_PATH}/{stripe_id}/expire",
                idempotency_key=f"expire-{stripe_id}",
            ),
            deadline,
        )
        return StripeSession.from_stripe(response.data)

    async def with_retries(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        deadline: Deadline,
        *,
        missing_ok: bool = False,
    ) -> T:
        trial = self.breaker.state == HALF_OPEN
        if not self.breaker.allow():
            metrics.STRIPE_CALLS.labels(operation, "circuit_open").inc()
            raise StripeCircuitOpen(retry_after=self.breaker.retry_after())
        try:
            return await self._attempts(operation, call, deadline, missing_ok)
        finally:
            if trial:  # no-op once the trial recorded a success or a failure
                self.breaker.abandon_trial()

    async def _attempts(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        deadline: Deadline,
        missing_ok: bool,
    ) -> T:
        attempt = 0
        last_error: BaseException | None = None
        while True:
            attempt += 1
            if deadline.remaining() < MIN_ATTEMPT_SECONDS:
                raise self._gave_up(operation, last_error)
            if self.throttle is not None:
                try:
                    await self.throttle.acquire(deadline.remaining() - MIN_ATTEMPT_SECONDS)
                except StripeRateLimited as refused:
                    if last_error is not None:
                        raise self._gave_up(operation, last_error) from None
                    log.warning("stripe.throttled", operation=operation)
                    raise refused from None
            budget = min(self._attempt_timeout, deadline.remaining())
            started = time.perf_counter()
            try:
                async with asyncio.timeout(budget):
                    result = await _network_errors_as_stripe(call)
            except (TimeoutError, stripe.StripeError) as error:
                outcome = _outcome(error)
                self._observe(operation, attempt, outcome, started, error)
                if missing_ok and _is_missing(error):
                    self.breaker.record_success()
                    raise _Missing from None
                if not is_retryable(error):
                    # Stripe answered (a 4xx about our request): it is up.
                    self.breaker.record_success()
                    raise self._problem(operation, error) from None
                last_error = error
                delay = _backoff(attempt, retry_after_seconds(error))
                if deadline.remaining() - delay < MIN_ATTEMPT_SECONDS:
                    raise self._gave_up(operation, error) from None
                metrics.STRIPE_RETRIES.labels(operation).inc()
                await asyncio.sleep(delay)
                continue
            self.breaker.record_success()
            self._observe(operation, attempt, "ok", started, None, result)
            return result

    def _gave_up(self, operation: str, error: BaseException | None) -> Exception:
        """The deadline leaves no room for (another) attempt."""
        if error is None:  # Stripe was never asked: nothing to hold against it
            return DeadlineExceeded(retry_after=1)
        # The breaker counts operations that failed for good, not attempts:
        # one unlucky request must not open it alone.
        self.breaker.record_failure()
        return self._problem(operation, error)

    def _problem(self, operation: str, error: BaseException) -> Exception:
        problem, level = classify(error)
        getattr(log, level)(
            "stripe.error",
            operation=operation,
            error_type=type(error).__name__,
            stripe_code=getattr(error, "code", None),
            stripe_param=getattr(error, "param", None),
            stripe_request_id=getattr(error, "request_id", None),
            http_status=getattr(error, "http_status", None),
            code=problem.code,
        )
        return problem

    def _observe(
        self,
        operation: str,
        attempt: int,
        outcome: str,
        started: float,
        error: BaseException | None,
        result: Any = None,
    ) -> None:
        duration = time.perf_counter() - started
        metrics.STRIPE_CALLS.labels(operation, outcome).inc()
        metrics.STRIPE_LATENCY.labels(operation).observe(duration)
        request_id = getattr(error, "request_id", None) if error else _request_id(result)
        if request_id:
            structlog.contextvars.bind_contextvars(stripe_request_id=request_id)
        log.info(
            "stripe.call",
            operation=operation,
            attempt=attempt,
            outcome=outcome,
            duration_ms=round(duration * 1000, 1),
            stripe_request_id=request_id,
        )


async def _network_errors_as_stripe(call: Callable[[], Awaitable[T]]) -> T:
    """A connection lost after the answer's headers is a network failure like any other.

    The SDK's `AIOHTTPClient` turns failures up to the headers into `APIConnectionError` but
    reads the body outside that handling, so aiohttp's own error would escape the retries.
    """
    try:
        return await call()
    except aiohttp.ClientError as error:
        raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
            f"Network error while reading Stripe's answer ({type(error).__name__})",
            should_retry=True,
        ) from error


class _Missing(Exception):
    """Internal: Stripe answered 404 resource_missing for a retrieve."""


def _is_missing(error: BaseException) -> bool:
    return isinstance(error, stripe.InvalidRequestError) and error.http_status == 404


def _outcome(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, stripe.APIConnectionError):
        return "connection_error"
    if isinstance(error, stripe.RateLimitError):
        return "rate_limited"
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return "auth"
    if isinstance(error, stripe.InvalidRequestError | stripe.IdempotencyError):
        return "invalid_request"
    return "api_error"


def _throttle_from(settings: Settings) -> StripeThrottle | None:
    if not settings.stripe_max_requests_per_second:
        return None
    return StripeThrottle(settings.stripe_max_requests_per_second, settings.stripe_max_burst)


def _backoff(attempt: int, retry_after: float | None) -> float:
    """Full-jitter exponential backoff; a Retry-After from Stripe is a floor."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    delay = random.uniform(0, ceiling)
    return max(delay, retry_after or 0.0)


def _request_id(result: Any) -> str | None:
    return getattr(result, "request_id", None)
