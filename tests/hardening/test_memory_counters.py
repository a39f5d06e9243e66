"""The in-process counters behind RATE_LIMIT_STORAGE_URL=memory://."""

from __future__ import annotations

from limits import parse
from limits.aio.strategies import FixedWindowRateLimiter

from checkout_api.api.memory_counters import ExpiringCounters
from tests.clock import FakeClock


async def test_a_window_counts_then_ends() -> None:
    clock = FakeClock()
    counters = ExpiringCounters(clock=clock)
    limiter = FixedWindowRateLimiter(counters)
    two_a_minute = parse("2/minute")

    assert [await limiter.hit(two_a_minute, "ip", "a") for _ in range(3)] == [True, True, False]
    assert await limiter.hit(two_a_minute, "ip", "b")  # another key has its own window

    clock.now += 61
    assert await limiter.hit(two_a_minute, "ip", "a")


async def test_ended_windows_are_dropped_without_walking_the_live_ones() -> None:
    clock = FakeClock()
    counters = ExpiringCounters(clock=clock)
    for n in range(1000):
        await counters.incr(f"old-{n}", expiry=60)
    clock.now += 30
    await counters.incr("young", expiry=60)
    assert len(counters) == 1001

    clock.now += 31  # the first thousand have ended, "young" has not
    await counters.incr("another", expiry=60)

    assert len(counters) == 2
    assert await counters.get("young") == 1
    assert await counters.get("old-0") == 0


async def test_a_cleared_key_starts_a_fresh_window() -> None:
    clock = FakeClock()
    counters = ExpiringCounters(clock=clock)
    await counters.incr("k", expiry=60)
    await counters.clear("k")
    clock.now += 10
    assert await counters.incr("k", expiry=60) == 1
    assert await counters.get_expiry("k") == clock.now + 60

    clock.now += 55  # the cleared window's heap entry comes due; the fresh one stays
    assert await counters.get("k") == 1
