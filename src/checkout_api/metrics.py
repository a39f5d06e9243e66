"""Prometheus metrics, exposed at GET /metrics.

| metric | labels | what |
|---|---|---|
| checkout_http_requests_total | route, method, status | requests answered |
| checkout_http_request_duration_seconds | route, method | latency histogram |
| checkout_stripe_calls_total | operation, outcome | every Stripe attempt |
| checkout_stripe_call_duration_seconds | operation | Stripe attempt latency |
| checkout_stripe_retries_total | operation | retries taken |
| checkout_stripe_circuit_state | - | 0 closed, 1 half_open, 2 open |
| checkout_stripe_throttle_waiting | - | callers queued for a Stripe slot right now |
| checkout_stripe_throttle_wait_seconds | - | time spent queued for a Stripe slot |
| checkout_sessions_total | result | created / reused / superseded |
| checkout_rate_limited_total | limit | refused by a limit: ip, session, stripe_throttle |
| checkout_rate_limit_storage_errors_total | - | limit checks skipped: storage unreachable |
| checkout_webhook_events_total | type, result | webhook deliveries by outcome |
| checkout_fulfillments_total | - | sessions fulfilled |

Routes are labelled by their template (`/checkoutsession`), never the raw path. Metrics are
per process unless PROMETHEUS_MULTIPROC_DIR names a directory: then every worker writes its
values there and GET /metrics from any worker answers for all of them (`exposition`).
`checkout-api serve` clears the directory's metric files at start (cli.py), before this
module is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)

HTTP_REQUESTS = Counter(
    "checkout_http_requests_total", "HTTP requests answered", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "checkout_http_request_duration_seconds",
    "HTTP request latency",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
STRIPE_CALLS = Counter(
    "checkout_stripe_calls_total", "Stripe API attempts by outcome", ["operation", "outcome"]
)
STRIPE_LATENCY = Histogram(
    "checkout_stripe_call_duration_seconds",
    "Stripe API attempt latency",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
STRIPE_RETRIES = Counter("checkout_stripe_retries_total", "Stripe retries taken", ["operation"])
# With several workers: the worst breaker state among live workers, the total queue.
CIRCUIT_STATE = Gauge(
    "checkout_stripe_circuit_state",
    "Stripe circuit breaker: 0 closed, 1 half_open, 2 open",
    multiprocess_mode="livemax",
)
STRIPE_THROTTLE_WAITING = Gauge(
    "checkout_stripe_throttle_waiting",
    "Callers queued for a Stripe request slot",
    multiprocess_mode="livesum",
)
STRIPE_THROTTLE_WAIT = Histogram(
    "checkout_stripe_throttle_wait_seconds",
    "Time spent queued for a Stripe request slot",
    buckets=(0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
SESSIONS = Counter("checkout_sessions_total", "Checkout sessions handed out", ["result"])
RATE_LIMITED = Counter("checkout_rate_limited_total", "Requests refused by a limit", ["limit"])
RATE_LIMIT_STORAGE_ERRORS = Counter(
    "checkout_rate_limit_storage_errors_total",
    "Rate-limit checks skipped because the storage was unreachable (fail open)",
)
WEBHOOK_EVENTS = Counter(
    "checkout_webhook_events_total", "Webhook events by type and result", ["type", "result"]
)
FULFILLMENTS = Counter("checkout_fulfillments_total", "Checkout sessions fulfilled")

_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def set_breaker_state(state: str) -> None:
    CIRCUIT_STATE.set(_STATE_VALUES[state])


def exposition() -> bytes:
    """The Prometheus text for this process, or for every worker in multiprocess mode."""
    if not os.environ.get(MULTIPROC_ENV):
        return generate_latest()
    _forget_dead_workers(os.environ[MULTIPROC_ENV])
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def process_stopped() -> None:
    """At a clean shutdown: take this worker out of the live gauges."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _forget_dead_workers(directory: str) -> None:
    """Live gauges of a worker that crashed (uvicorn replaced it) stop counting."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except PermissionError:  # alive, someone else's
            pass
