"""Retries and the circuit breaker, through the real SDK against the emulator's injected faults.

Every transient failure is retried with the same Idempotency-Key until Stripe answers, so one
caller gets exactly one session; retries stop when the deadline leaves no room; repeated
failed operations open the breaker, which then answers at once without calling Stripe, and
closes again after its cool-down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from checkout_api.config import Settings
from checkout_api.errors import StripeRateLimited, StripeUnreachable
from checkout_api.gateway import CreateSessionRequest, Deadline, StripeGateway
from checkout_api.gateway.breaker import CircuitBreaker
from checkout_api.gateway.throttle import StripeThrottle
from tests.api.test_checkout_session import assert_problem
from tests.clock import FakeClock
from tests.conftest import EmulatorHandle
from tests.hardening.conftest import app_client, poll, read_metric

BUDGET = 1.0
SLACK = 0.3


async def create(client: httpx.AsyncClient, session_id: str = "visitor-retry") -> httpx.Response:
    return await client.post("/checkoutsession", json={"session_id": session_id})


def stripe_posts(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return emulator.requests("/v1/checkout/sessions", "POST")


class TestTransientFailures:
    @pytest.fixture
    async def client(
        self, hardened_settings: Callable[..., Settings]
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = hardened_settings(
            checkout_deadline_seconds=3.0, stripe_attempt_timeout_seconds=0.5
        )
        async with app_client(settings) as http:
            yield http

    @pytest.mark.parametrize(
        "fault",
        [
            pytest.param({"fail_next": 2, "status": 500, "type": "api_error"}, id="500"),
            pytest.param({"fail_next": 2, "status": 503, "type": "api_error"}, id="503"),
            pytest.param(
                {
                    "fail_next": 2,
                    "status": 429,
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "headers": {"Retry-After": "0.3"},
                },
                id="429",
            ),
            pytest.param(
                {
                    "fail_next": 2,
                    "status": 409,
                    "type": "invalid_request_error",
                    "code": "lock_timeout",
                },
                id="409",
            ),
            pytest.param({"reset_next": 2}, id="connection-reset"),
            pytest.param({"hang_next": 1}, id="attempt-timeout"),
        ],
    )
    async def test_is_retried_to_exactly_one_session(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle, fault: dict[str, Any]
    ) -> None:
        emulator.faults(**fault)

        response = await create(client)

        assert response.status_code == 201, response.text
        posts = stripe_posts(emulator)
        failures = fault.get("fail_next") or fault.get("reset_next") or fault.get("hang_next")
        assert len(posts) == failures + 1
        assert posts[-1]["status"] == 200
        assert len({p["headers"]["idempotency-key"] for p in posts}) == 1
        assert len(emulator.creates()) == 1
        assert emulator.session(response.json()["id"])["client_reference_id"] == "visitor-retry"

    async def test_retry_after_from_stripe_is_honoured(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        emulator.faults(
            fail_next=1,
            status=429,
            type="invalid_request_error",
            code="rate_limit",
            headers={"Retry-After": "1"},
        )
        started = time.monotonic()

        response = await create(client)

        assert response.status_code == 201
        assert time.monotonic() - started >= 1.0  # waited as Stripe asked, not less

    async def test_stripe_should_retry_false_is_not_retried(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        emulator.faults(
            fail_next=5, status=500, type="api_error", headers={"Stripe-Should-Retry": "false"}
        )

        assert_problem(await create(client), 502, "stripe_error")
        assert len(stripe_posts(emulator)) == 1


class TestBudget:
    @pytest.fixture
    async def client(
        self, hardened_settings: Callable[..., Settings]
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = hardened_settings(
            checkout_deadline_seconds=BUDGET, stripe_attempt_timeout_seconds=0.4
        )
        async with app_client(settings) as http:
            yield http

    @pytest.mark.parametrize(
        ("fault", "status", "code"),
        [
            ({"status": 500, "type": "api_error"}, 502, "stripe_error"),
            (
                {"status": 429, "type": "invalid_request_error", "code": "rate_limit"},
                503,
                "stripe_rate_limited",
            ),
        ],
    )
    async def test_retries_stop_at_the_budget(
        self,
        client: httpx.AsyncClient,
        emulator: EmulatorHandle,
        fault: dict[str, Any],
        status: int,
        code: str,
    ) -> None:
        emulator.faults(fail_next=1000, **fault)
        started = time.monotonic()

        response = await create(client)

        elapsed = time.monotonic() - started
        assert_problem(response, status, code)
        assert elapsed < BUDGET + SLACK, f"answered after {elapsed:.2f}s, budget {BUDGET}s"
        posts = stripe_posts(emulator)
        assert len(posts) >= 2, "a transient failure deserves at least one retry"
        assert len({p["headers"]["idempotency-key"] for p in posts}) == 1
        if status == 503:
            assert int(response.headers["retry-after"]) >= 1

    async def test_retry_after_beyond_the_budget_is_not_waited_for(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        emulator.faults(
            fail_next=5,
            status=429,
            type="invalid_request_error",
            code="rate_limit",
            headers={"Retry-After": "30"},
        )
        started = time.monotonic()

        response = await create(client)

        assert_problem(response, 503, "stripe_rate_limited")
        assert response.headers["retry-after"] == "30"
        assert time.monotonic() - started < 0.5
        assert len(stripe_posts(emulator)) == 1


class TestCircuitBreaker:
    THRESHOLD = 2
    COOL_DOWN = 0.6

    @pytest.fixture
    async def client(
        self, hardened_settings: Callable[..., Settings]
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = hardened_settings(
            checkout_deadline_seconds=0.6,
            stripe_attempt_timeout_seconds=0.3,
            stripe_breaker_failure_threshold=self.THRESHOLD,
            stripe_breaker_reset_seconds=self.COOL_DOWN,
        )
        async with app_client(settings) as http:
            yield http

    async def test_opens_after_repeated_failures_then_closes_after_the_cool_down(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        emulator.faults(fail_next=1000, status=500, type="api_error")
        for n in range(self.THRESHOLD):
            assert_problem(await create(client, f"breaker-{n}"), 502, "stripe_error")
        opened_at = time.monotonic()

        ready = (await client.get("/readyz")).json()
        assert ready["checks"]["stripe_circuit"] == "open"
        assert await read_metric(client, "checkout_stripe_circuit_state") == 2
        calls_before = len(emulator.requests())
        started = time.monotonic()
        response = await create(client, "breaker-fast")
        assert time.monotonic() - started < 0.2
        problem = assert_problem(response, 503, "stripe_circuit_open")
        assert problem["code"] == "stripe_circuit_open"
        assert int(response.headers["retry-after"]) >= 1
        assert len(emulator.requests()) == calls_before, "an open breaker must not call Stripe"

        emulator.faults(fail_next=0)  # Stripe recovers
        states: list[str] = []

        async def readiness() -> str:
            state: str = (await client.get("/readyz")).json()["checks"]["stripe_circuit"]
            states.append(state)
            return state

        while await readiness() == "open":
            assert time.monotonic() - opened_at < self.COOL_DOWN + 2, "breaker stayed open"
            await asyncio.sleep(0.05)
        assert time.monotonic() - opened_at >= self.COOL_DOWN * 0.9
        assert states[-1] == "half_open"

        response = await create(client, "breaker-recovered")
        assert response.status_code == 201, response.text
        assert (await client.get("/readyz")).json()["checks"]["stripe_circuit"] == "closed"
        assert await read_metric(client, "checkout_stripe_circuit_state") == 0

    async def test_a_failed_trial_opens_it_again(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        emulator.faults(fail_next=1000, status=500, type="api_error")
        for n in range(self.THRESHOLD):
            await create(client, f"breaker-{n}")
        breaker = client.app.state.services.gateway.breaker  # type: ignore[attr-defined]
        await poll(lambda: breaker.state == "half_open", self.COOL_DOWN + 2, "half-open")

        assert_problem(await create(client, "trial"), 502, "stripe_error")

        assert breaker.state == "open"
        assert_problem(await create(client, "after-trial"), 503, "stripe_circuit_open")


def session_request(n: int) -> CreateSessionRequest:
    return CreateSessionRequest(
        line_items=(("price_demo_tshirt", 1),),
        mode="payment",
        return_url="https://shop.example/r?session_id={CHECKOUT_SESSION_ID}",
        client_reference_id=f"visitor-{n}",
        idempotency_key=f"key-{n}-{time.monotonic_ns()}",
    )


class TestHalfOpenTrial:
    """A trial that never reaches a verdict must not leave the breaker half-open for good."""

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    async def half_open(
        self, make_settings: Callable[..., Settings], clock: FakeClock
    ) -> AsyncIterator[StripeGateway]:
        breaker = CircuitBreaker(failure_threshold=1, reset_after_seconds=5, clock=clock)
        # Two slots at once, then one a second: enough for a trial and the caller after it.
        gateway = StripeGateway(
            make_settings(), breaker=breaker, throttle=StripeThrottle(1.0, burst=2)
        )
        breaker.record_failure()
        clock.now += 5
        assert breaker.state == "half_open"
        try:
            yield gateway
        finally:
            await gateway.close()

    async def test_a_cancelled_trial_lets_the_next_caller_try(
        self, half_open: StripeGateway, emulator: EmulatorHandle
    ) -> None:
        emulator.faults(hang_next=1)
        trial = asyncio.create_task(half_open.create_session(session_request(1), Deadline(10)))
        await poll(lambda: len(stripe_posts(emulator)) == 1, what="the trial reaches Stripe")
        trial.cancel()  # the caller went away mid-call
        with pytest.raises(asyncio.CancelledError):
            await trial

        session = await half_open.create_session(session_request(2), Deadline(10))

        assert session.id.startswith("cs_test_")
        assert half_open.breaker.state == "closed"

    async def test_a_trial_refused_by_the_throttle_lets_the_next_caller_try(
        self, half_open: StripeGateway, emulator: EmulatorHandle
    ) -> None:
        assert half_open.throttle is not None
        for _ in range(2):  # both slots of this second are taken
            half_open.throttle.reserve(max_wait=0)

        with pytest.raises(StripeRateLimited):
            await half_open.create_session(session_request(1), Deadline(0.5))

        assert stripe_posts(emulator) == []
        assert half_open.breaker.state == "half_open"
        assert half_open.breaker.allow(), "the trial must be free for the next caller"


async def test_a_connection_lost_mid_answer_is_retried_with_the_same_key(
    make_settings: Callable[..., Settings],
) -> None:
    """Stripe's answer stops after its headers: a network failure, retried, then a 504."""
    keys: list[str] = []

    async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        fields = dict(
            line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if line
        )
        await reader.readexactly(int(fields.get("Content-Length", "0")))
        keys.append(fields.get("Idempotency-Key", ""))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b'Content-Length: 5000\r\n\r\n{"id": "cs_test_')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(cut_short, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gateway = StripeGateway(make_settings(stripe_api_base=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(StripeUnreachable):
            await gateway.create_session(session_request(1), Deadline(0.8))
    finally:
        await gateway.close()
        server.close()
        await server.wait_closed()

    assert len(keys) >= 2
    assert len(set(keys)) == 1
