"""The circuit breaker opens after repeated failures, half-opens after the cool-down, closes."""

from __future__ import annotations

from checkout_api.gateway.breaker import CircuitBreaker
from tests.clock import FakeClock


def test_opens_after_threshold_and_recovers_after_cool_down() -> None:
    clock = FakeClock()
    changes: list[str] = []
    breaker = CircuitBreaker(
        failure_threshold=3, reset_after_seconds=5, clock=clock, on_change=changes.append
    )

    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.retry_after() == 5

    clock.now += 5
    assert breaker.state == "half_open"
    assert breaker.allow()  # one trial call
    assert not breaker.allow()  # and only one
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow()
    assert changes == ["open", "half_open", "closed"]


def test_failed_trial_reopens() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_seconds=2, clock=clock)
    breaker.record_failure()
    clock.now += 2
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"


def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"
