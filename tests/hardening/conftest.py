"""Fixtures for the hardening tests: settings with the gateway/limit tuning knobs, the app
in-process (closing its rate-limit storage), Redis, metrics and service processes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from checkout_api.config import Settings
from tests.conftest import (
    REDIS_URL,
    TEST_PRICES,
    TEST_SECRET_KEY,
    EmulatorHandle,
    reachable,
    running_app,
    service_unavailable,
)


@pytest.fixture
def hardened_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values = make_settings().model_dump()
        values.update(overrides)
        return Settings(**values, _env_file=None)

    return build


# The app closes its rate-limit storage at shutdown; kept as a name the tests read well.
app_client = running_app


def metric(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus text exposition, or None when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


async def read_metric(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return metric(response.text, name, **labels) or 0.0


async def poll(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> None:
    """Poll a condition the test cannot be notified of, bounded."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not met within {timeout}s: {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
def redis_url() -> str:
    parts = urlsplit(REDIS_URL)
    if not reachable(parts.hostname or "127.0.0.1", parts.port or 6379):
        service_unavailable(f"Redis at {parts.hostname}:{parts.port}")
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def service_env(emulator: EmulatorHandle, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": TEST_SECRET_KEY,
        "STRIPE_API_BASE": emulator.base_url,
        "CHECKOUT_PRICES": TEST_PRICES,
        "CHECKOUT_RETURN_URL": "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
        "DATABASE_URL": database_url,
        "RATE_LIMIT": "10000/second",
        "SESSION_RATE_LIMIT": "10000/second",
        **extra,
    }
