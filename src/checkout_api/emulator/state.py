"""Everything one emulator instance remembers: sessions, idempotency cache, request log,
events, counters, injected faults and the rate limiter.

All of it lives on one event loop, so no locks. Caches that grow with load are bounded:
the request log keeps the last `REQUEST_LOG_SIZE` entries and the idempotency cache the last
`IDEMPOTENCY_CACHE_SIZE` keys (Stripe keeps keys for 24 hours; an emulator run is shorter).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from checkout_api.emulator.config import EmulatorConfig

REQUEST_LOG_SIZE = 10_000
IDEMPOTENCY_CACHE_SIZE = 100_000


class TokenBucket:
    """Stripe-like rate limiter: `rate` tokens a second, bursts up to one second's worth."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class Faults:
    """Failures injected through `POST /_emulator/faults`; each applies to /v1 calls only."""

    latency_ms: float = 0.0
    fail_next: int = 0
    status: int = 500
    type: str = "api_error"
    code: str | None = None
    param: str | None = None
    message: str = "An unknown error occurred. Please try again later."
    headers: dict[str, str] = field(default_factory=dict)
    hang_next: int = 0
    reset_next: int = 0

    def take(self) -> str | None:
        """Consume and name the next fault due: "reset", "hang", "fail", or None."""
        if self.reset_next > 0:
            self.reset_next -= 1
            return "reset"
        if self.hang_next > 0:
            self.hang_next -= 1
            return "hang"
        if self.fail_next > 0:
            self.fail_next -= 1
            return "fail"
        return None


class IdempotencyEntry:
    """One Idempotency-Key: in flight (`body is None`) or its saved response."""

    __slots__ = ("body", "method", "params", "path", "request_id", "status")

    def __init__(self, method: str, path: str, params: dict[str, Any]) -> None:
        self.method = method
        self.path = path
        self.params = params
        self.status = 0
        self.body: bytes | None = None
        self.request_id = ""


class SessionRecord:
    """A Checkout Session: the fields that differ from the template, plus private facts."""

    __slots__ = ("api_version", "fields", "line_items")

    def __init__(
        self, fields: dict[str, Any], line_items: list[dict[str, Any]], api_version: str
    ) -> None:
        self.fields = fields
        self.line_items = line_items
        self.api_version = api_version


@dataclass
class Stats:
    requests: int = 0
    creates: int = 0
    connections_opened: int = 0


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.sessions: dict[str, SessionRecord] = {}
        self.idempotency: dict[tuple[str, str], IdempotencyEntry] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.events: list[dict[str, Any]] = []
        self.stats = Stats()
        self.faults = Faults()
        self.limiter = _limiter(config.rate_limit_per_second)
        self.released = asyncio.Event()  # set at shutdown: hung requests give up
        self.http: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    def reset(self) -> None:
        self.sessions.clear()
        self.idempotency.clear()
        self.requests.clear()
        self.events.clear()
        self.stats = Stats()
        self.faults = Faults()
        self.limiter = _limiter(self.config.rate_limit_per_second)

    def set_rate_limit(self, rate: float | None) -> None:
        self.limiter = _limiter(rate)

    def remember(self, key: tuple[str, str], entry: IdempotencyEntry) -> None:
        if len(self.idempotency) >= IDEMPOTENCY_CACHE_SIZE:
            del self.idempotency[next(iter(self.idempotency))]
        self.idempotency[key] = entry

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run `coro` in the background, kept alive until it ends or the app shuts down."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def client(self) -> aiohttp.ClientSession:
        if self.http is None:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self.http

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.close()
            self.http = None


def _limiter(rate: float | None) -> TokenBucket | None:
    return TokenBucket(rate) if rate else None
