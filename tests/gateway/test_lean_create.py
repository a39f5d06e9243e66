"""The lean create path is held to the SDK: same request on the wire, same errors.

Each test makes the same call twice against the emulator, once through the SDK's
`raw_request_async` and once through `LeanCreate`, on the same gateway (same pool, same
settings), and compares what the emulator received or what was raised. A `stripe` upgrade that
changes its headers, its form encoding or its error mapping fails here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
from aiohttp import web

from checkout_api.config import Settings
from checkout_api.errors import StripeFailed
from checkout_api.gateway import CreateSessionRequest, Deadline, StripeGateway
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
    await through_sdk(gateway, params, "key-sdk")
    by_sdk = last_create(emulator)
    await through_lean(gateway, params, "key-lean")
    by_lean = last_create(emulator)

    assert by_lean["params"] == by_sdk["params"]
    assert by_sdk["headers"].pop("idempotency-key") == "key-sdk"
    assert by_lean["headers"].pop("idempotency-key") == "key-lean"
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
    assert by_lean.request_id
    assert by_lean.request_id != by_sdk.request_id
    for name in ("Retry-After", "Stripe-Should-Retry"):
        assert (by_lean.headers or {}).get(name) == (by_sdk.headers or {}).get(name)


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


async def test_a_2xx_that_is_not_json_is_an_api_error(
    make_settings: Callable[..., Settings],
) -> None:
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(text="<html>proxy error</html>", headers={"Request-Id": "req_x"})

    app = web.Application()
    app.router.add_post(SESSIONS_PATH, garbage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    gateway = StripeGateway(make_settings(stripe_api_base=f"http://127.0.0.1:{port}"))
    try:
        for call in (through_sdk, through_lean):
            with pytest.raises(stripe.APIError) as caught:
                await call(gateway, create_params(), "key")
            assert caught.value.http_status == 200
        with pytest.raises(StripeFailed) as mapped:
            await gateway.create_session(
                CreateSessionRequest((("price_demo_tshirt", 1),), "payment", "u", "v", "k"),
                Deadline(0.5),
            )
        assert "proxy error" not in str(mapped.value)
    finally:
        await gateway.close()
        await runner.cleanup()
