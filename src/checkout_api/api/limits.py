"""Abuse limits on POST /checkoutsession, on the `limits` library.

- per client IP, every request (RATE_LIMIT, e.g. `30/minute`);
- per caller session id, only requests that would create a new Stripe session
  (SESSION_RATE_LIMIT): reuse answers are free, card-testing bots minting sessions are not.

Storage is RATE_LIMIT_STORAGE_URL: `memory://` (one process) or `redis://host:6379` so that
several instances share one budget. The client IP is the TCP peer, or the right-most
X-Forwarded-For hop not in TRUSTED_PROXIES when the peer is a trusted proxy.
"""

from __future__ import annotations

import ipaddress
import math
import time

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from checkout_api import metrics
from checkout_api.config import Settings
from checkout_api.errors import RateLimited

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RequestLimits:
    def __init__(self, settings: Settings) -> None:
        url = settings.rate_limit_storage_url
        self._storage = storage_from_string(url if url.startswith("async+") else f"async+{url}")
        self._limiter = FixedWindowRateLimiter(self._storage)  # type: ignore[arg-type]
        self._per_ip = parse_many(settings.rate_limit)
        self._per_session = parse_many(settings.session_rate_limit)
        self._trusted = [ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies]

    async def check_request(self, request: Request) -> None:
        await self._hit("ip", self._per_ip, self.client_ip(request))

    async def check_new_session(self, session_id: str) -> None:
        await self._hit("session", self._per_session, session_id)

    async def healthy(self) -> bool:
        return bool(await self._storage.check())

    async def _hit(self, name: str, items: list[RateLimitItem], key: str) -> None:
        for item in items:
            if not await self._limiter.hit(item, name, key):
                stats = await self._limiter.get_window_stats(item, name, key)
                metrics.RATE_LIMITED.labels(name).inc()
                raise RateLimited(retry_after=max(1, math.ceil(stats.reset_time - time.time())))

    def client_ip(self, request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        if not self._trusted or not _in(peer, self._trusted):
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if not _in(hop, self._trusted):
                return hop
        return peer


def _in(address: str, networks: list[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
