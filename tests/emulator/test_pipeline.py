"""What every /v1 call goes through, seen from the stripe SDK: API keys, idempotency,
injected faults, the rate limiter, the request log and the connection counter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import stripe

from checkout_api.emulator import EmulatorConfig, RunningEmulator, start_in_thread

Params = Callable[..., dict[str, Any]]
MakeClient = Callable[..., stripe.StripeClient]


async def create(
    client: stripe.StripeClient, params: dict[str, Any], key: str | None = None
) -> stripe.checkout.Session:
    options: dict[str, Any] = {"idempotency_key": key} if key else {}
    return await client.v1.checkout.sessions.create_async(params=params, options=options)


async def arrived(control: Any) -> None:
    """Return once the emulator has logged a call (polls its request log, 5 s at most)."""
    async with asyncio.timeout(5):
        while not await control.get("/requests"):
            await asyncio.sleep(0.01)


class TestAuthentication:
    async def test_invalid_key_is_401_and_masked(
        self, params: Params, make_client: MakeClient
    ) -> None:
        with pytest.raises(stripe.AuthenticationError) as caught:
            await create(make_client(key="pk_test_notasecretkey9876"), params())
        assert caught.value.http_status == 401
        message = str(caught.value)
        assert "Invalid API Key provided" in message
        assert "9876" in message
        assert "notasecretkey" not in message

    async def test_missing_key_is_401(self, emu: RunningEmulator) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.get(emu.base_url + "/v1/checkout/sessions/cs_test_x") as response,
        ):
            body = await response.json()
        assert response.status == 401
        assert body["error"]["type"] == "invalid_request_error"
        assert response.headers["Request-Id"].startswith("req_")

    async def test_configured_keys_only(self, params: Params) -> None:
        config = EmulatorConfig(api_keys=frozenset({"sk_test_only_this_one"}))
        with start_in_thread(config) as emu:
            http = stripe.AIOHTTPClient()
            try:
                base = {"api": emu.base_url}
                other = stripe.StripeClient("sk_test_another_key", base_addresses=base,
                                            http_client=http, max_network_retries=0)  # fmt: skip
                with pytest.raises(stripe.AuthenticationError):
                    await create(other, params())
                allowed = stripe.StripeClient("sk_test_only_this_one", base_addresses=base,
                                              http_client=http, max_network_retries=0)  # fmt: skip
                assert (await create(allowed, params())).status == "open"
            finally:
                await http.close_async()


class TestIdempotency:
    async def test_same_key_same_params_replays(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        first = await create(client, params(), key="order-1")
        second = await create(client, params(), key="order-1")
        assert second.id == first.id
        assert second.last_response.headers["Idempotent-Replayed"] == "true"
        assert second.last_response.body == first.last_response.body  # byte for byte
        assert (await control.get("/stats"))["creates"] == 1

    async def test_same_key_other_params_is_idempotency_error(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        await create(client, params(), key="order-2")
        with pytest.raises(stripe.IdempotencyError) as caught:
            await create(client, params(client_reference_id="other"), key="order-2")
        assert caught.value.http_status == 400

    async def test_key_is_scoped_to_the_api_key(
        self, params: Params, client: stripe.StripeClient, make_client: MakeClient
    ) -> None:
        first = await create(client, params(), key="order-3")
        other = await create(make_client(key="sk_test_someone_else"), params(), key="order-3")
        assert other.id != first.id

    async def test_rejected_request_is_not_saved(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        with pytest.raises(stripe.InvalidRequestError):
            await create(client, params(mode="donation"), key="order-4")
        assert (await create(client, params(), key="order-4")).status == "open"

    async def test_concurrent_same_key_is_409_in_use(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        await control.post("/faults", {"latency_ms": 300})
        outcomes = await asyncio.gather(
            create(client, params(), key="order-5"),
            create(client, params(), key="order-5"),
            return_exceptions=True,
        )
        errors = [o for o in outcomes if isinstance(o, stripe.StripeError)]
        assert len(errors) == 1, outcomes
        assert errors[0].http_status == 409
        assert errors[0].json_body["error"]["code"] == "idempotency_key_in_use"
        assert (await control.get("/stats"))["creates"] == 1

    async def test_sdk_retry_after_409_gets_the_replay(
        self, params: Params, client: stripe.StripeClient, make_client: MakeClient, control: Any
    ) -> None:
        await control.post("/faults", {"latency_ms": 200})
        patient = make_client(retries=3)
        first, second = await asyncio.gather(
            create(client, params(), key="order-6"), create(patient, params(), key="order-6")
        )
        assert first.id == second.id
        assert (await control.get("/stats"))["creates"] == 1


class TestFaults:
    async def test_fail_next_answers_the_error_and_creates_nothing(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        await control.post(
            "/faults",
            {"fail_next": 1, "status": 500, "type": "api_error", "message": "boom",
             "headers": {"Stripe-Should-Retry": "true"}},
        )  # fmt: skip
        with pytest.raises(stripe.APIError) as caught:
            await create(client, params(), key="order-7")
        assert caught.value.http_status == 500
        assert caught.value.headers["Stripe-Should-Retry"] == "true"
        assert (await control.get("/stats"))["creates"] == 0
        assert (await create(client, params(), key="order-7")).status == "open"

    async def test_reset_next_drops_the_connection(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        await control.post("/faults", {"reset_next": 1})
        with pytest.raises(stripe.APIConnectionError):
            await create(client, params())
        assert (await control.get("/stats"))["creates"] == 0
        assert (await create(client, params())).status == "open"

    async def test_hang_next_times_the_client_out_without_blocking_others(
        self, params: Params, client: stripe.StripeClient, make_client: MakeClient, control: Any
    ) -> None:
        await control.post("/faults", {"hang_next": 1})
        impatient = make_client(timeout=0.5)
        hung = asyncio.ensure_future(create(impatient, params()))
        await arrived(control)
        assert (await create(client, params())).status == "open"
        with pytest.raises(stripe.APIConnectionError):
            await hung

    async def test_stop_does_not_wait_for_a_hung_request(
        self, params: Params, emu: RunningEmulator, make_client: MakeClient, control: Any
    ) -> None:
        await control.post("/faults", {"hang_next": 1})
        hung = asyncio.ensure_future(create(make_client(timeout=30), params()))
        await arrived(control)
        started = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, emu.stop)
        assert time.monotonic() - started < 5
        with pytest.raises(stripe.APIConnectionError):
            await hung

    async def test_latency_is_added(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        await control.post("/faults", {"latency_ms": 150})
        started = time.monotonic()
        await create(client, params())
        assert time.monotonic() - started >= 0.15


class TestRateLimit:
    async def test_over_the_limit_is_429(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        await control.post("/faults", {"rate_limit_per_second": 0.01})
        await create(client, params())
        with pytest.raises(stripe.RateLimitError) as caught:
            await create(client, params())
        assert caught.value.http_status == 429
        assert caught.value.code == "rate_limit" or "rate" in str(caught.value)
        assert caught.value.headers["Stripe-Rate-Limited-Reason"] == "global-rate"
        await control.post("/faults", {"rate_limit_per_second": None})
        assert (await create(client, params())).status == "open"


class TestIntrospection:
    async def test_request_log_masks_the_key_and_parses_params(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        await create(client, params())
        (logged,) = await control.get("/requests")
        assert (logged["method"], logged["path"], logged["status"]) == (
            "POST",
            "/v1/checkout/sessions",
            200,
        )
        assert logged["headers"]["authorization"] == "Bearer sk_test_…1234"
        assert logged["headers"]["stripe-version"] == stripe.api_version
        assert logged["params"]["line_items"] == [{"price": "price_demo_tshirt", "quantity": "2"}]
        assert logged["params"]["metadata"] == {"order_id": "ord_123"}

    async def test_reset_forgets_everything(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        session = await create(client, params(), key="order-8")
        await control.post("/faults", {"fail_next": 5})
        await control.post("/reset")
        assert await control.get("/requests") == []
        assert (await control.get("/stats"))["requests"] == 0
        with pytest.raises(stripe.InvalidRequestError):
            await client.v1.checkout.sessions.retrieve_async(session.id)
        assert (await create(client, params(), key="order-8")).id != session.id

    async def test_keep_alive_reuses_one_connection(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        await create(client, params())
        before = (await control.get("/stats"))["connections_opened"]
        assert before == 2  # the SDK's connection and this control client's
        for _ in range(10):
            await create(client, params())
        stats = await control.get("/stats")
        assert stats["connections_opened"] == before
        assert stats["creates"] == 11
