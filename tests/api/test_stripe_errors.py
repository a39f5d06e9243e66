"""Stripe failures, injected at the emulator, become the documented problem responses."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from checkout_api.config import Settings
from tests.api.test_checkout_session import assert_problem
from tests.conftest import EmulatorHandle, running_app

BUDGET = 1.0


@pytest.fixture
async def client(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(checkout_deadline_seconds=BUDGET, stripe_attempt_timeout_seconds=0.4)
    async with running_app(settings) as http:
        yield http


async def create(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/checkoutsession", json={"session_id": "visitor-err"})


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (
            {"status": 400, "type": "invalid_request_error", "code": "resource_missing"},
            502,
            "stripe_invalid_request",
        ),
        ({"status": 401, "type": "invalid_request_error"}, 502, "stripe_authentication"),
        ({"status": 403, "type": "invalid_request_error"}, 502, "stripe_authentication"),
        (
            {"status": 429, "type": "invalid_request_error", "code": "rate_limit"},
            503,
            "stripe_rate_limited",
        ),
        ({"status": 500, "type": "api_error"}, 502, "stripe_error"),
        ({"status": 503, "type": "api_error"}, 502, "stripe_error"),
    ],
)
async def test_each_stripe_error_class_maps_as_documented(
    client: httpx.AsyncClient, emulator: EmulatorHandle, fault: dict, status: int, code: str
) -> None:
    emulator.faults(fail_next=50, message="secret detail sk_test_leak do not show", **fault)

    response = await create(client)

    problem = assert_problem(response, status, code)
    assert "sk_test_leak" not in response.text
    assert "secret detail" not in response.text
    if status == 503:
        assert int(response.headers["retry-after"]) >= 1
    stored = await client.app.state.services.checkout._sessions.all_rows()  # type: ignore[attr-defined]
    assert stored == []
    assert problem["instance"] == "/checkoutsession"


async def test_invalid_request_is_not_retried(
    client: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    emulator.faults(fail_next=5, status=400, type="invalid_request_error")
    await create(client)
    assert len(emulator.requests("/v1/checkout/sessions", "POST")) == 1


async def test_connection_reset_is_504(client: httpx.AsyncClient, emulator: EmulatorHandle) -> None:
    emulator.faults(reset_next=50)
    assert_problem(await create(client), 504, "stripe_unreachable")


async def test_hung_stripe_is_answered_within_the_budget(
    client: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    emulator.faults(hang_next=50)
    started = time.monotonic()

    response = await create(client)

    elapsed = time.monotonic() - started
    problem = assert_problem(response, 504, "stripe_unreachable")
    assert response.headers["retry-after"] == "1"
    assert elapsed < BUDGET + 0.3, f"answered after {elapsed:.2f}s, budget {BUDGET}s"
    assert problem["detail"]


async def test_one_transient_500_is_retried_to_a_single_session(
    client: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    emulator.faults(fail_next=1, status=500, type="api_error")

    response = await create(client)

    assert response.status_code == 201
    posts = emulator.requests("/v1/checkout/sessions", "POST")
    assert [p["status"] for p in posts] == [500, 200]
    assert len({p["headers"]["idempotency-key"] for p in posts}) == 1
    assert len(emulator.creates()) == 1


async def test_a_later_request_succeeds_after_a_failure(
    client: httpx.AsyncClient, emulator: EmulatorHandle
) -> None:
    emulator.faults(fail_next=50, status=500, type="api_error")
    assert (await create(client)).status_code == 502
    emulator.faults(fail_next=0)

    response = await create(client)

    assert response.status_code == 201
    assert len(emulator.creates()) == 1
