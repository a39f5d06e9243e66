"""Fair queueing under Stripe's rate limit: 100 concurrent callers against a 25/s Stripe.

The emulator's Stripe-like limiter is switched on (25/s, bursts of 25, 429 beyond). The
service's throttle queues callers FIFO at the same rate with a smaller burst, so Stripe sees
(almost) no 429s; callers whose turn would come after their deadline are refused at once
with 503 + Retry-After instead of piling up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from checkout_api.config import Settings
from checkout_api.errors import StripeRateLimited
from checkout_api.gateway.throttle import StripeThrottle
from tests.clock import FakeClock
from tests.conftest import EmulatorHandle
from tests.hardening.conftest import app_client, read_metric

RATE = 25.0
BUDGET = 3.0
CALLERS = 100
SLACK = 0.5


class TestThrottleSchedule:
    def test_a_burst_goes_at_once_then_one_slot_per_interval(self) -> None:
        clock = FakeClock()
        throttle = StripeThrottle(10.0, burst=3, clock=clock)

        waits = [throttle.reserve(max_wait=10.0) for _ in range(6)]

        assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])

    def test_slots_come_back_at_the_rate_after_a_quiet_spell(self) -> None:
        clock = FakeClock()
        throttle = StripeThrottle(10.0, burst=2, clock=clock)
        for _ in range(4):
            throttle.reserve(max_wait=10.0)

        clock.now += 10.0  # long idle: the bucket refills, but only to the burst

        waits = [throttle.reserve(max_wait=10.0) for _ in range(3)]
        assert waits == pytest.approx([0.0, 0.0, 0.1])

    def test_a_caller_that_cannot_be_served_in_time_is_refused_and_reserves_nothing(
        self,
    ) -> None:
        clock = FakeClock()
        throttle = StripeThrottle(10.0, burst=1, clock=clock)
        throttle.reserve(max_wait=1.0)  # slot now; the next is 0.1 s away
        throttle.reserve(max_wait=1.0)  # 0.1 s; the next is 0.2 s away

        with pytest.raises(StripeRateLimited) as refused:
            throttle.reserve(max_wait=0.15)

        assert refused.value.retry_after is not None
        assert refused.value.retry_after >= 1
        assert throttle.reserve(max_wait=0.25) == pytest.approx(0.2)  # the slot was kept free

    async def test_waiters_are_served_first_come_first_served(self) -> None:
        throttle = StripeThrottle(200.0, burst=1)
        served: list[int] = []

        async def caller(n: int) -> None:
            await throttle.acquire(max_wait=5.0)
            served.append(n)

        await asyncio.gather(*(caller(n) for n in range(20)))

        assert served == list(range(20))
        assert throttle.waiting == 0


async def timed_checkouts(
    client: httpx.AsyncClient, prefix: str
) -> list[tuple[httpx.Response, float]]:
    """CALLERS concurrent checkouts, each with its own session id, and how long each took."""

    async def one(n: int) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = await client.post("/checkoutsession", json={"session_id": f"{prefix}-{n}"})
        return response, time.monotonic() - started

    return list(await asyncio.gather(*(one(n) for n in range(CALLERS))))


async def test_100_concurrent_callers_are_queued_fairly_within_the_budget(
    hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
) -> None:
    emulator.faults(rate_limit_per_second=RATE)
    settings = hardened_settings(
        checkout_deadline_seconds=BUDGET, stripe_max_requests_per_second=RATE
    )

    async with app_client(settings) as client:
        results = await timed_checkouts(client, "fair")
        refused_metric = await read_metric(
            client, "checkout_rate_limited_total", limit="stripe_throttle"
        )
        waiting = await read_metric(client, "checkout_stripe_throttle_waiting")

    slowest = max(elapsed for _, elapsed in results)
    assert slowest <= BUDGET + SLACK, f"slowest answer after {slowest:.2f}s"
    created = [r for r, _ in results if r.status_code == 201]
    refused = [r for r, _ in results if r.status_code != 201]
    for response in refused:
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "stripe_rate_limited"
        assert int(response.headers["retry-after"]) >= 1

    stripe_posts = emulator.requests("/v1/checkout/sessions", "POST")
    throttled_by_stripe = [p for p in stripe_posts if p["status"] == 429]
    assert len(throttled_by_stripe) <= 2, f"Stripe answered 429 {len(throttled_by_stripe)} times"
    assert len(created) >= 0.75 * RATE * BUDGET, f"only {len(created)} of {CALLERS} served"
    assert len(emulator.creates()) == len(created)
    assert refused, "the load was meant to exceed what fits in the budget"
    assert refused_metric >= len(refused)
    assert waiting == 0


async def test_unpaced_by_default_stripe_429s_are_retried_and_end_within_the_budget(
    hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
) -> None:
    """The default (no throttle): Stripe's 429s are retried within the deadline, then a clear
    503 + Retry-After; no caller waits past the budget and no cart gets two sessions."""
    emulator.faults(rate_limit_per_second=RATE)
    settings = hardened_settings(checkout_deadline_seconds=BUDGET)
    assert settings.stripe_max_requests_per_second == 0

    async with app_client(settings) as client:
        results = await timed_checkouts(client, "unpaced")
        retries = await read_metric(
            client, "checkout_stripe_retries_total", operation="checkout.sessions.create"
        )

    slowest = max(elapsed for _, elapsed in results)
    assert slowest <= BUDGET + SLACK, f"slowest answer after {slowest:.2f}s"
    created = [r for r, _ in results if r.status_code == 201]
    assert retries > 0, "Stripe's 429s were meant to be retried"
    for response, _ in results:
        if response.status_code != 201:
            assert response.status_code in (503, 504), response.text
            assert response.json()["code"] in ("stripe_rate_limited", "stripe_unreachable")
            assert int(response.headers["retry-after"]) >= 1
    assert len(created) >= 0.75 * RATE * BUDGET, f"only {len(created)} of {CALLERS} served"
    assert any(p["status"] == 429 for p in emulator.requests("/v1/checkout/sessions", "POST"))
    references = [s["params"]["client_reference_id"] for s in emulator.creates()]
    assert len(references) == len(set(references)) == len(created)
