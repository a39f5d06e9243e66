"""Abuse limits on POST /checkoutsession, on the `limits` library.

- per client IP, every request (RATE_LIMIT, e.g. `30/minute`);
- per caller session id, only requests that would create a new Stripe session
  (SESSION_RATE_LIMIT): reuse answers are free, card-testing bots minting sessions are not.

Storage is RATE_LIMIT_STORAGE_URL: `memory://` (one process) or `redis://host:6379/0`
(`rediss://` for TLS) so that several instances share one budget. Keys are namespaced by
RATE_LIMIT_KEY_PREFIX, so environments sharing one Redis do not share budgets. The Redis pool
is ours (redis-py's asyncio client, short socket timeouts) and `close()` releases it.

If the storage cannot be reached the check fails open: the request goes ahead, the skip is
logged (`rate_limit.storage_unavailable`) and counted. A Redis outage must not take checkout
down with it; Stripe's own card-testing defences still apply meanwhile.

The client IP is the TCP peer, or, when the peer is in TRUSTED_PROXIES, the right-most
X-Forwarded-For hop not in TRUSTED_PROXIES (hops to its left are the client's own claims and
could be forged).
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from typing import Any

import structlog
from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from checkout_api import metrics
from checkout_api.api.memory_counters import ExpiringCounters
from checkout_api.config import Settings
from checkout_api.errors import RateLimited

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
REDIS_SCHEMES = ("redis://", "rediss://")
REDIS_TIMEOUT_SECONDS = 0.25  # a limit check must not eat the request's 3 s budget
DEFAULT_KEY_PREFIX = "checkout-api"
_CLIENT_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")  # CLIENT LIST shows the key prefix

log = structlog.get_logger("checkout_api.limits")


class RequestLimits:
    def __init__(self, settings: Settings) -> None:
        url = settings.rate_limit_storage_url
        prefix = settings.rate_limit_key_prefix
        self._pool: Any = None
        self._storage = self._open(url, prefix)
        self._limiter = FixedWindowRateLimiter(self._storage)
        self._per_ip = parse_many(settings.rate_limit)
        self._per_session = parse_many(settings.session_rate_limit)
        self._trusted = [ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies]

    def _open(self, url: str, prefix: str) -> Storage:
        bare = url.removeprefix("async+")
        if bare.startswith(REDIS_SCHEMES):
            import redis.asyncio

            self._pool = redis.asyncio.ConnectionPool.from_url(
                bare,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                client_name=_CLIENT_NAME_UNSAFE.sub("_", prefix)[:64] or DEFAULT_KEY_PREFIX,
            )
            storage = storage_from_string(
                f"async+{bare}",
                implementation="redispy",
                connection_pool=self._pool,
                key_prefix=prefix,
                wrap_exceptions=True,
            )
        elif bare.startswith("memory://"):
            storage = ExpiringCounters()
        else:
            storage = storage_from_string(
                url if url.startswith("async+") else f"async+{url}", wrap_exceptions=True
            )
        if not isinstance(storage, Storage):
            raise ValueError(f"RATE_LIMIT_STORAGE_URL: {url.split(':', 1)[0]} is not supported")
        return storage

    async def close(self) -> None:
        """Release the Redis connections (nothing to do for memory storage)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()

    async def check_request(self, request: Request) -> None:
        await self._hit("ip", self._per_ip, self.client_ip(request))

    async def check_new_session(self, session_id: str) -> None:
        await self._hit("session", self._per_session, session_id)

    async def healthy(self) -> bool:
        try:
            return bool(await self._storage.check())
        except (StorageError, OSError):
            return False

    async def _hit(self, name: str, items: list[RateLimitItem], key: str) -> None:
        for item in items:
            try:
                allowed = await self._limiter.hit(item, name, key)
                if allowed:
                    continue
                stats = await self._limiter.get_window_stats(item, name, key)
            except StorageError as error:
                metrics.RATE_LIMIT_STORAGE_ERRORS.inc()
                log.error(
                    "rate_limit.storage_unavailable",
                    limit=name,
                    error_type=type(error.storage_error).__name__,
                )
                return
            metrics.RATE_LIMITED.labels(name).inc()
            raise RateLimited(retry_after=max(1, math.ceil(stats.reset_time - time.time())))

    def client_ip(self, request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        if not self._trusted or not _in(peer, self._trusted):
            return peer
        header = request.headers.get("x-forwarded-for", "")
        hops = [hop for hop in (h.strip() for h in header.split(",")) if hop]
        for hop in reversed(hops):
            if not _in(hop, self._trusted):
                return hop
        return hops[0] if hops else peer  # every hop is one of ours: the first is the client


def _in(address: str, networks: list[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
