"""The lean create path is held to the SDK: same request on the wire, same errors.

Each test makes the same call twice against the emulator, once through the SDK's
`raw_request_async` and once through `LeanCreate`, on the same gateway (same pool, same
settings), and compares what the emulator received or what was raised. A `stripe` upgrade that
changes its headers, its form encoding or its error mapping fails here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
from aiohttp import web

from checkout_api.config import Settings
from checkout_api.gateway import CreateSessionRequest, StripeGateway
from checkout_api.gateway.errors import header, is_retryable, retry_after_seconds
from checkout_api.gateway.lean_create import SESSIONS_PATH, form_encode
from tests.conftest import EmulatorHandle


def create_params(**overrides: Any) -> dict[str, Any]:
    request = CreateSessionRequest(
        line_items=(("price_demo_tshirt", 2), ("price_demo_mug", 1)),
        mode="payment",
        return_url="https://shop.example/r?session_id={CHECKOUT_SESSION_ID}&x=a b",
        client_reference_id="visitor-ü/1",
        idempotency_key="unused",
    )
    return {**request.to_params(), **overrides}


@pytest.fixture
async def gateway(make_settings: Callable[..., Settings]) -> AsyncIterator[StripeGateway]:
    gateway = StripeGateway(make_settings())
    yield gateway
    await gateway.close()


async def through_sdk(gateway: StripeGateway, params: dict[str, Any], key: str) -> Any:
    return await gateway._client.raw_request_async(
        "post", SESSIONS_PATH, idempotency_key=key, **params
    )


async def through_lean(gateway: StripeGateway, params: dict[str, Any], key: str) -> Any:
    return await gateway._create(params, key)


def last_create(emulator: EmulatorHandle) -> dict[str, Any]:
    return emulator.requests(SESSIONS_PATH, "POST")[-1]


async def test_the_same_request_reaches_stripe(
    gateway: StripeGateway, emulator: EmulatorHandle
) -> None:
    params = create_params()
    await through_sdk(gateway, params, "key-warm-up")  # later calls report on the one before
    await through_sdk(gateway, params, "key-sdk")
    by_sdk = last_create(emulator)
    await through_lean(gateway, params, "key-lean")
    by_lean = last_create(emulator)

    assert by_lean["params"] == by_sdk["params"]
    assert by_sdk["headers"].pop("idempotency-key") == "key-sdk"
    assert by_lean["headers"].pop("idempotency-key") == "key-lean"
    telemetry = [
        json.loads(r["headers"].pop("x-stripe-client-telemetry")) for r in (by_sdk, by_lean)
    ]
    assert telemetry[0].keys() == telemetry[1].keys() == {"last_request_metrics"}
    assert by_lean["headers"] == by_sdk["headers"]  # Stripe-Version, user agents, key, length
    assert by_lean["headers"]["stripe-version"] == stripe.api_version
    assert by_lean["status"] == by_sdk["status"] == 200


async def test_the_answer_is_read_as_the_sdk_reads_it(
    gateway: StripeGateway, emulator: EmulatorHandle
) -> None:
    by_sdk = await through_sdk(gateway, create_params(), "key-a")
    by_lean = await through_lean(gateway, create_params(), "key-a")  # replayed: same session

    assert by_lean.data == by_sdk.data
    assert by_lean.data["client_secret"]
    assert by_lean.request_id
    assert by_lean.request_id.startswith("req_")


def test_form_encoding_matches_the_sdks() -> None:
    from stripe._encode import _api_encode  # the SDK's encoder, private: a reference only

    params = create_params(
        metadata={"a": "x&y=z", "b": True, "c": None, "d": 3},
        expand=["line_items", "payment_intent"],
    )
    expected = urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")

    assert form_encode(params) == expected


def test_values_the_sdk_would_convert_first_are_refused() -> None:
    with pytest.raises(TypeError, match="expires_at"):
        form_encode({"expires_at": datetime.now(UTC)})


FAULTS = [
    {"status": 400, "type": "invalid_request_error", "code": "parameter_unknown", "param": "x"},
    {"status": 400, "type": "idempotency_error"},
    {"status": 400, "type": "invalid_request_error", "code": "rate_limit"},
    {"status": 401, "type": "invalid_request_error"},
    {"status": 402, "type": "card_error", "code": "card_declined", "param": "card"},
    {"status": 403, "type": "invalid_request_error"},
    {"status": 404, "type": "invalid_request_error", "code": "resource_missing"},
    {"status": 409, "type": "invalid_request_error", "code": "lock_timeout"},
    {"status": 429, "type": "invalid_request_error", "headers": {"Retry-After": "2"}},
    {"status": 400, "type": "invalid_request_error", "headers": {"Stripe-Should-Retry": "true"}},
    {"status": 500, "type": "api_error", "headers": {"Stripe-Should-Retry": "false"}},
    {"status": 503, "type": "api_error"},
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['status']}-{f['type']}")
async def test_each_failure_raises_what_the_sdk_raises(
    gateway: StripeGateway, emulator: EmulatorHandle, fault: dict[str, Any]
) -> None:
    raised = []
    for call in (through_sdk, through_lean):
        emulator.faults(fail_next=1, message="injected", **fault)
        with pytest.raises(stripe.StripeError) as caught:
            await call(gateway, create_params(), uuid.uuid4().hex)
        raised.append(caught.value)
    by_sdk, by_lean = raised

    assert type(by_lean) is type(by_sdk)
    for attribute in ("http_status", "code", "user_message"):
        assert getattr(by_lean, attribute) == getattr(by_sdk, attribute)
    assert getattr(by_lean, "param", None) == getattr(by_sdk, "param", None)
    assert by_lean.json_body is not None
    assert without_request_ids(by_lean.json_body) == without_request_ids(by_sdk.json_body)
    assert by_lean.request_id
    assert by_lean.request_id != by_sdk.request_id
    assert is_retryable(by_lean) == is_retryable(by_sdk)
    assert retry_after_seconds(by_lean) == retry_after_seconds(by_sdk)
    for name, value in fault.get("headers", {}).items():
        assert header(by_lean, name) == value


def without_request_ids(body: dict[str, Any] | None) -> Any:
    return json.loads(re.sub(r"req_[A-Za-z0-9]+", "req_", json.dumps(body)))


async def test_an_unreachable_stripe_is_a_connection_error(
    make_settings: Callable[..., Settings],
) -> None:
    gateway = StripeGateway(make_settings(stripe_api_base="http://127.0.0.1:9"))
    try:
        for call in (through_sdk, through_lean):
            with pytest.raises(stripe.APIConnectionError):
                await call(gateway, create_params(), "key")
    finally:
        await gateway.close()


@pytest.mark.parametrize("status", [200, 502])
async def test_an_answer_that_is_not_json_is_an_api_error(
    make_settings: Callable[..., Settings], status: int
) -> None:
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(
            status=status, text="<html>proxy error</html>", headers={"Request-Id": "req_x"}
        )

    app = web.Application()
    app.router.add_post(SESSIONS_PATH, garbage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    gateway = StripeGateway(make_settings(stripe_api_base=f"http://127.0.0.1:{port}"))
    try:
        raised = []
        for call in (through_sdk, through_lean):
            with pytest.raises(stripe.APIError) as caught:
                await call(gateway, create_params(), "key")
            raised.append(caught.value)
        assert [e.http_status for e in raised] == [status, status]
        assert is_retryable(raised[0]) == is_retryable(raised[1])
    finally:
        await gateway.close()
        await runner.cleanup()
