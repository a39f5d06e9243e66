"""Graceful shutdown: SIGTERM lets the in-flight checkout finish, then the process exits.

`checkout-api serve` runs as a real process; the emulator is slowed so that a request is
certainly in flight (seen by Stripe, not yet answered) when the signal arrives.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from checkout_api.config import Settings
from tests.conftest import EmulatorHandle
from tests.hardening.conftest import app_client, poll, service_env
from tests.processes import STOP_TIMEOUT_SECONDS, ServiceProcess

STRIPE_LATENCY_MS = 1500


@pytest.mark.slow
async def test_sigterm_lets_the_in_flight_checkout_finish(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    service = ServiceProcess.start(
        service_env(emulator, f"sqlite:///{tmp_path}/checkout.db"), tmp_path
    )
    try:
        emulator.faults(latency_ms=STRIPE_LATENCY_MS)
        async with httpx.AsyncClient(
            base_url=service.base_url, timeout=10, trust_env=False
        ) as http:
            in_flight = asyncio.create_task(
                http.post("/checkoutsession", json={"session_id": "draining"})
            )
            await poll(
                lambda: len(emulator.requests("/v1/checkout/sessions", "POST")) == 1,
                what="the create reaches Stripe",
            )
            signalled_at = time.monotonic()
            service.process.send_signal(signal.SIGTERM)

            response = await in_flight
            answered_after = time.monotonic() - signalled_at
            with pytest.raises(httpx.TransportError):  # no longer accepting
                await http.get("/readyz")
        returncode = await asyncio.to_thread(service.process.wait, STOP_TIMEOUT_SECONDS)
    finally:
        service.kill()

    assert response.status_code == 201, response.text
    assert answered_after < STRIPE_LATENCY_MS / 1000 + 1.0
    assert len(emulator.creates()) == 1
    records = [
        json.loads(line) for line in service.log.read_text().splitlines() if line.startswith("{")
    ]
    events = [r.get("event") for r in records]
    assert "service.stopped" in events  # the lifespan closed the Stripe and database pools
    # uvicorn re-raises the captured SIGTERM after its graceful shutdown, so the process
    # reports death by SIGTERM rather than 0 (see the report: cli.py decides).
    assert returncode in (0, -signal.SIGTERM), service.log.read_text()[-2000:]


async def test_readiness_turns_not_ready_on_sigterm(
    hardened_settings: Callable[..., Settings],
    emulator: EmulatorHandle,
) -> None:
    """The lifespan chains a SIGTERM handler in front of the server's: /readyz says draining.

    uvicorn closes its listening socket on SIGTERM, so over HTTP this shows only on
    connections already open; in-process it is observable directly.
    """
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        async with app_client(hardened_settings()) as client:
            assert (await client.get("/readyz")).status_code == 200
            signal.raise_signal(signal.SIGTERM)
            response = await client.get("/readyz")
    finally:
        signal.signal(signal.SIGTERM, previous)

    assert seen == [signal.SIGTERM], "the server's own handler must still run"
    assert response.status_code == 503
    assert response.json()["checks"]["lifecycle"] == "draining"
