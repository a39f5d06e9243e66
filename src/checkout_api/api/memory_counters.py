"""In-process fixed-window counters for the `limits` library (RATE_LIMIT_STORAGE_URL=memory://).

Written here rather than using `limits`' own async MemoryStorage: after almost every
increment that storage starts a task that walks every key it holds. With one key per caller
session id, a busy instance holds tens of thousands of keys, so each request paid for a walk
over all of them (measured in docs/performance.md). Here expiry is a heap: each increment
pops only the windows that have ended, O(log n).

Only what `FixedWindowRateLimiter` uses is implemented; moving and sliding windows are not.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

from limits.aio.storage import Storage


class ExpiringCounters(Storage):
    STORAGE_SCHEME = None  # built directly by api/limits.py, never looked up by URL

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(wrap_exceptions=True)
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._expiries: dict[str, float] = {}
        self._due: list[tuple[float, str]] = []  # (expiry, key), a heap

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self._clock()
        self._expire(now)
        if key not in self._counts:
            self._counts[key] = 0
            self._expiries[key] = now + expiry
            heapq.heappush(self._due, (now + expiry, key))
        self._counts[key] += amount
        return self._counts[key]

    async def get(self, key: str) -> int:
        self._expire(self._clock())
        return self._counts.get(key, 0)

    async def get_expiry(self, key: str) -> float:
        return self._expiries.get(key, self._clock())

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        count = len(self._counts)
        self._counts.clear()
        self._expiries.clear()
        self._due.clear()
        return count

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)
        self._expiries.pop(key, None)  # its heap entry is skipped when it comes due

    def _expire(self, now: float) -> None:
        due = self._due
        while due and due[0][0] <= now:
            expiry, key = heapq.heappop(due)
            if self._expiries.get(key) == expiry:
                del self._counts[key], self._expiries[key]

    def __len__(self) -> int:
        return len(self._counts)
