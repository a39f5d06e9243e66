"""A small circuit breaker in front of Stripe.

Written here rather than taken from a library: the available breakers (pybreaker, aiobreaker)
are sync-first or unmaintained, and ours needs only three states, a failure count and a
cool-down, plus a state the metrics and /readyz can read.

closed -> (N consecutive upstream failures) -> open -> (cool-down elapsed) -> half_open
half_open lets one trial call through: success closes, failure re-opens. A trial that ends
with no verdict (cancelled, or refused by the throttle before reaching Stripe) is abandoned,
so the next caller gets the trial instead of the breaker staying half-open for good.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._threshold = failure_threshold
        self._reset_after = reset_after_seconds
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._opened_at = 0.0
        self._state = CLOSED
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self._reset_after:
            self._set(HALF_OPEN)
        return self._state

    def retry_after(self) -> int:
        left = self._reset_after - (self._clock() - self._opened_at)
        return max(1, int(left + 0.999))

    def allow(self) -> bool:
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._trial_in_flight = False
        if self._state != CLOSED:
            self._set(CLOSED)

    def abandon_trial(self) -> None:
        """The half-open trial ended without reaching a verdict: let another caller try."""
        if self._state == HALF_OPEN:
            self._trial_in_flight = False

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._state == HALF_OPEN or self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._set(OPEN)

    def _set(self, state: str) -> None:
        self._state = state
        if self._on_change:
            self._on_change(state)
