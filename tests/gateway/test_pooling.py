"""The pooled Stripe client keeps its connections alive at 100 concurrent calls.

The SDK's default HTTPXClient (httpcore 1.0.9) would open a new connection for most requests at
this load; we chose stripe.AIOHTTPClient on one aiohttp session. Measured at the emulator,
which counts the TCP connections it accepts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from checkout_api.config import Settings
from checkout_api.gateway import CreateSessionRequest, Deadline, StripeGateway
from tests.conftest import EmulatorHandle

CONCURRENCY = 100
ROUNDS = 3


def request(n: int) -> CreateSessionRequest:
    return CreateSessionRequest(
        line_items=(("price_demo_tshirt", 1),),
        mode="payment",
        return_url="https://shop.example/r?session_id={CHECKOUT_SESSION_ID}",
        client_reference_id=f"visitor-{n}",
        idempotency_key=uuid.uuid4().hex,
    )


async def burst(gateway: StripeGateway) -> None:
    results = await asyncio.gather(
        *(gateway.create_session(request(n), Deadline(10)) for n in range(CONCURRENCY))
    )
    assert len({session.id for session in results}) == CONCURRENCY


async def test_connections_opened_per_request_stays_near_zero(
    make_settings: Callable[..., Settings], emulator: EmulatorHandle
) -> None:
    emulator.faults(latency_ms=50)  # keep all 100 calls in flight together
    gateway = StripeGateway(make_settings())
    try:
        await burst(gateway)  # warm-up: the pool grows to the concurrency once
        warmed = emulator.stats()["connections_opened"]
        for _ in range(ROUNDS):
            await burst(gateway)
        opened = emulator.stats()["connections_opened"] - warmed
    finally:
        await gateway.close()

    per_request = opened / (CONCURRENCY * ROUNDS)
    assert per_request <= 0.02, f"{opened} new connections for {CONCURRENCY * ROUNDS} requests"
    assert warmed <= CONCURRENCY + 5
