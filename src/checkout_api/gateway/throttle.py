"""Fair queueing in front of Stripe: a first-come, first-served token bucket.

Stripe answers 429 beyond about 25 requests a second (a sandbox: 25/s overall). Sending faster
buys nothing but 429s, retries and more load, so every Stripe attempt first takes a slot here:
`rate` slots a second, up to `burst` at once after a quiet spell.

Slots are reserved at once, in arrival order, on a virtual schedule (GCRA: each reservation
moves the "next free slot" on by 1/rate), and the caller then sleeps until its slot. That makes
the queue strictly FIFO without a waiter list, and tells each caller up front how long it would
wait. A caller whose slot lies beyond what its deadline allows is refused at once with
`StripeRateLimited` (503 + Retry-After) and reserves nothing: it could not finish in time, and
a queue of doomed waiters is exactly the pile-up this exists to prevent.

A waiter that is cancelled (its client went away) keeps its slot, which then goes unused: the
throttle errs on the side of sending less than `rate`, never more.

The limit is per process: with several workers or instances give each `rate / N`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from checkout_api import metrics
from checkout_api.errors import StripeRateLimited


class StripeThrottle:
    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._next_slot = clock()  # GCRA's theoretical arrival time
        self.waiting = 0

    def reserve(self, max_wait: float) -> float:
        """Reserve the next slot and return the seconds until it, or refuse.

        Raises `StripeRateLimited` (reserving nothing) when the slot is more than `max_wait`
        seconds away.
        """
        now = self._clock()
        scheduled = max(self._next_slot, now)
        wait = max(0.0, scheduled - self._tolerance - now)
        if wait > max_wait:
            metrics.RATE_LIMITED.labels("stripe_throttle").inc()
            raise StripeRateLimited(
                "Too many checkouts are waiting for Stripe; retry shortly.",
                retry_after=max(1, math.ceil(wait - max(0.0, max_wait))),
            )
        self._next_slot = scheduled + self._interval
        return wait

    async def acquire(self, max_wait: float) -> float:
        """Wait for a slot (FIFO); returns the seconds waited."""
        wait = self.reserve(max_wait)
        if wait > 0:
            self.waiting += 1
            metrics.STRIPE_THROTTLE_WAITING.inc()
            try:
                await asyncio.sleep(wait)
            finally:
                self.waiting -= 1
                metrics.STRIPE_THROTTLE_WAITING.dec()
        metrics.STRIPE_THROTTLE_WAIT.observe(wait)
        return wait
