"""Webhook events from the control API: completed / async payment / expired, their Stripe
signatures (checked by the SDK's own verifier) and delivery to a webhook endpoint."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import stripe
from aiohttp import web

from checkout_api.emulator import EmulatorConfig, start_in_thread
from checkout_api.emulator.signing import sign

Params = Callable[..., dict[str, Any]]
SECRET = "whsec_test_emulator"  # the `config` fixture's webhook secret


class Receiver:
    """A webhook endpoint on the test's loop that verifies and queues what it receives."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[stripe.Event] = asyncio.Queue()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.read()
        event = stripe.Webhook.construct_event(payload, request.headers["Stripe-Signature"], SECRET)
        await self.received.put(event)
        return web.Response(status=200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/stripe", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    target.url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/stripe"
    yield target
    await runner.cleanup()


async def new_session(client: stripe.StripeClient, params: dict[str, Any]) -> str:
    return (await client.v1.checkout.sessions.create_async(params=params)).id


def verified(answer: dict[str, Any], secret: str = SECRET) -> stripe.Event:
    return stripe.Webhook.construct_event(answer["payload"], answer["signature"], secret)


class TestSigning:
    def test_round_trips_through_the_sdk_verifier(self) -> None:
        payload = b'{"id": "evt_1", "object": "event"}'
        event = stripe.Webhook.construct_event(payload, sign(payload, SECRET), SECRET)
        assert event.id == "evt_1"

    def test_is_stripes_scheme(self) -> None:
        payload = b"{}"
        expected = hmac.new(SECRET.encode(), b"1700000000.{}", hashlib.sha256).hexdigest()
        assert sign(payload, SECRET, timestamp=1_700_000_000) == f"t=1700000000,v1={expected}"

    def test_tampered_payload_fails_verification(self) -> None:
        header = sign(b'{"amount": 1}', SECRET)
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(b'{"amount": 2}', header, SECRET)


class TestComplete:
    async def test_marks_paid_and_signs_the_completed_event(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        session_id = await new_session(client, params())
        answer = await control.post(
            f"/checkout/sessions/{session_id}/complete",
            {"customer_email": "jenny@example.com", "payment_status": "paid"},
        )
        event = verified(answer)
        assert event.type == "checkout.session.completed"
        assert event.id.startswith("evt_")
        assert event.api_version == stripe.api_version
        session = event.data.object
        assert (session.id, session.status, session.payment_status) == (
            session_id,
            "complete",
            "paid",
        )
        assert session.customer_details.email == session.customer_email == "jenny@example.com"
        assert json.loads(answer["payload"]) == answer["event"]
        fetched = await client.v1.checkout.sessions.retrieve_async(session_id)
        assert fetched.status == "complete"
        assert (await control.get("/events"))[0]["id"] == event.id

    async def test_event_carries_the_version_that_created_the_session(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        created = await client.v1.checkout.sessions.create_async(
            params=params(ui_mode="embedded"), options={"stripe_version": "2025-03-31.basil"}
        )
        answer = await control.post(f"/checkout/sessions/{created.id}/complete")
        assert answer["event"]["api_version"] == "2025-03-31.basil"

    async def test_only_an_open_session_completes(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        session_id = await new_session(client, params())
        await client.v1.checkout.sessions.expire_async(session_id)
        await control.post(f"/checkout/sessions/{session_id}/complete", status=400)

    async def test_unknown_session_is_404(self, control: Any) -> None:
        await control.post("/checkout/sessions/cs_test_nope/complete", status=404)


class TestAsyncPayment:
    @pytest.mark.parametrize(
        ("succeeded", "event_type", "payment_status"),
        [
            (True, "checkout.session.async_payment_succeeded", "paid"),
            (False, "checkout.session.async_payment_failed", "unpaid"),
        ],
    )
    async def test_settles_a_complete_unpaid_session(
        self,
        params: Params,
        client: stripe.StripeClient,
        control: Any,
        succeeded: bool,
        event_type: str,
        payment_status: str,
    ) -> None:
        session_id = await new_session(client, params())
        path = f"/checkout/sessions/{session_id}"
        await control.post(path + "/complete", {"payment_status": "unpaid"})
        answer = await control.post(path + "/async_payment", {"succeeded": succeeded})
        event = verified(answer)
        assert (event.type, event.data.object.payment_status) == (event_type, payment_status)

    async def test_refuses_an_open_session(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        session_id = await new_session(client, params())
        body = {"succeeded": True}
        await control.post(f"/checkout/sessions/{session_id}/async_payment", body, status=400)


class TestExpire:
    async def test_control_expire_emits_expired_event(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        session_id = await new_session(client, params())
        event = verified(await control.post(f"/checkout/sessions/{session_id}/expire"))
        assert (event.type, event.data.object.status) == ("checkout.session.expired", "expired")

    async def test_api_expire_records_the_event_with_its_request(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        session_id = await new_session(client, params())
        expired = await client.v1.checkout.sessions.expire_async(session_id)
        (event,) = await control.get("/events")
        assert event["type"] == "checkout.session.expired"
        assert event["request"]["id"] == expired.last_response.request_id


class TestDelivery:
    async def test_delivers_signed_payload_to_deliver_to(
        self, params: Params, client: stripe.StripeClient, control: Any, receiver: Receiver
    ) -> None:
        session_id = await new_session(client, params())
        answer = await control.post(
            f"/checkout/sessions/{session_id}/complete", {"deliver_to": receiver.url}
        )
        assert answer["delivery_status"] == 200
        delivered = receiver.received.get_nowait()
        assert delivered.id == answer["event"]["id"]

    async def test_configured_webhook_url_gets_api_expiry(
        self, params: Params, receiver: Receiver
    ) -> None:
        config = EmulatorConfig(webhook_url=receiver.url, webhook_secret=SECRET)
        with start_in_thread(config) as emu:
            http = stripe.AIOHTTPClient()
            sdk = stripe.StripeClient("sk_test_emulator1234", base_addresses={"api": emu.base_url},
                                      http_client=http, max_network_retries=0)  # fmt: skip
            try:
                session_id = await new_session(sdk, params())
                await sdk.v1.checkout.sessions.expire_async(session_id)
                async with asyncio.timeout(5):
                    delivered = await receiver.received.get()
            finally:
                await http.close_async()
        assert delivered.type == "checkout.session.expired"
        assert delivered.data.object.id == session_id

    async def test_unsigned_without_a_secret(self, params: Params, control: Any) -> None:
        with start_in_thread(EmulatorConfig()) as emu:
            http = stripe.AIOHTTPClient()
            sdk = stripe.StripeClient("sk_test_emulator1234", base_addresses={"api": emu.base_url},
                                      http_client=http, max_network_retries=0)  # fmt: skip
            try:
                session_id = await new_session(sdk, params())
            finally:
                await http.close_async()
            async with control.http.post(
                f"{emu.base_url}/_emulator/checkout/sessions/{session_id}/complete"
            ) as response:
                answer = await response.json()
        assert answer["signature"] is None
