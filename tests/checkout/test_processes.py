"""Exactly one Stripe session across worker processes and instances, and after a crash.

These start the real `checkout-api serve` command (several workers, or two instances on one
PostgreSQL) and hit it concurrently over HTTP.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_PRICES, TEST_SECRET_KEY, EmulatorHandle
from tests.processes import ServiceProcess

pytestmark = pytest.mark.slow


def service_env(emulator: EmulatorHandle, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": TEST_SECRET_KEY,
        "STRIPE_API_BASE": emulator.base_url,
        "CHECKOUT_PRICES": TEST_PRICES,
        "CHECKOUT_RETURN_URL": "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
        "DATABASE_URL": database_url,
        "RATE_LIMIT": "10000/second",
        "SESSION_RATE_LIMIT": "10000/second",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


async def hammer(urls: list[str], session_id: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
        return await asyncio.gather(
            *(
                http.post(f"{urls[n % len(urls)]}/checkoutsession", json={"session_id": session_id})
                for n in range(count)
            )
        )


def assert_one_session(responses: list[httpx.Response], emulator: EmulatorHandle) -> None:
    assert {r.status_code for r in responses} <= {200, 201}, [r.text for r in responses]
    assert [r.status_code for r in responses].count(201) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(emulator.requests("/v1/checkout/sessions", "POST")) == 1


@pytest.mark.parametrize("workers", [2])
async def test_worker_processes_make_one_stripe_session(
    emulator: EmulatorHandle, database_url: str, tmp_path: Path, workers: int
) -> None:
    emulator.faults(latency_ms=300)
    service = ServiceProcess.start(service_env(emulator, database_url), tmp_path, workers=workers)
    try:
        responses = await hammer([service.base_url], "multi-worker", 40)
    finally:
        service.stop()
    assert_one_session(responses, emulator)


async def test_two_instances_on_one_postgres_make_one_stripe_session(
    emulator: EmulatorHandle, postgres_url: str, tmp_path: Path
) -> None:
    emulator.faults(latency_ms=300)
    env = service_env(emulator, postgres_url)
    first = ServiceProcess.start(env, tmp_path)
    second = ServiceProcess.start(env, tmp_path)
    try:
        responses = await hammer([first.base_url, second.base_url], "two-instances", 40)
    finally:
        first.stop()
        second.stop()
    assert_one_session(responses, emulator)


async def test_a_process_killed_mid_attempt_blocks_the_session_id_only_for_its_lease(
    emulator: EmulatorHandle, database_url: str, tmp_path: Path
) -> None:
    lease = 2.0
    env = service_env(emulator, database_url, CHECKOUT_ATTEMPT_LEASE_SECONDS=str(lease))
    doomed = ServiceProcess.start(env, tmp_path)
    emulator.faults(hang_next=1)
    async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
        in_flight = asyncio.create_task(
            http.post(f"{doomed.base_url}/checkoutsession", json={"session_id": "crash"})
        )
        await wait_for(lambda: len(emulator.requests("/v1/checkout/sessions", "POST")) == 1)
        killed_at = time.monotonic()
        doomed.kill()
        with pytest.raises(httpx.TransportError):
            await in_flight

    survivor = ServiceProcess.start(env, tmp_path)
    try:
        responses = await hammer([survivor.base_url], "crash", 1)
        while responses[0].status_code == 503:  # still leased: answered fast, retry
            assert time.monotonic() - killed_at < lease + 5
            assert responses[0].json()["code"] == "checkout_in_progress"
            responses = await hammer([survivor.base_url], "crash", 1)
    finally:
        survivor.stop()

    assert responses[0].status_code == 201
    keys = {
        p["headers"]["idempotency-key"] for p in emulator.requests("/v1/checkout/sessions", "POST")
    }
    assert len(keys) == 1  # the takeover repeated the same logical attempt
    assert len(emulator.creates()) == 1


async def wait_for(condition: object, timeout: float = 10.0) -> None:
    """Poll a condition the test cannot be notified of (another process's progress)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
