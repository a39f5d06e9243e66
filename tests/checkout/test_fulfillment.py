"""The shop's fulfillment hook: called once per fulfilled session, retried until it succeeds."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from sqlalchemy import update

from checkout_api.config import Settings
from checkout_api.emulator.signing import sign
from checkout_api.store.tables import fulfillments
from tests.checkout import hooks
from tests.checkout.test_webhooks import deliver, new_session, services, trigger
from tests.conftest import WEBHOOK_SECRET, EmulatorHandle, running_app

NOTIFY_SECRET = "shop-notify-secret"


async def make_due_now(http: Any) -> None:
    """Skip the backoff wait: the retry is what is under test, not the clock."""
    async with services(http).engine.begin() as connection:
        await connection.execute(update(fulfillments).values(next_attempt_at=0))
    services(http).fulfillment.nudge()


paid_payloads: dict[str, str] = {}


async def pay(http: Any, emulator: EmulatorHandle, session_id: str) -> str:
    stripe_id = await new_session(http, session_id)
    event = trigger(emulator, stripe_id, "complete")
    paid_payloads[stripe_id] = event["payload"]
    response = await deliver(http, event["payload"], event["signature"])
    assert response.status_code == 200
    return stripe_id


async def test_callable_hook_is_called_once_and_retried_after_a_failure(
    make_settings: Callable[..., Settings], database_url: str, emulator: EmulatorHandle
) -> None:
    called = hooks.reset(fail_times=1)
    settings = make_settings(
        database_url=database_url, fulfillment_hook="tests.checkout.hooks:record"
    )
    async with running_app(settings) as http:
        stripe_id = await pay(http, emulator, "buyer-1")
        await asyncio.wait_for(called.wait(), 10)  # first call: fails
        worker = services(http).fulfillment
        await asyncio.wait_for(worker.settled.wait(), 10)
        assert await worker._repository.pending_count() == 1

        called.clear()
        worker.settled.clear()
        await make_due_now(http)
        await asyncio.wait_for(called.wait(), 10)  # the retry: succeeds
        await wait_delivered(http)

        # Another event id saying the same thing (Stripe may send such): no second fulfillment.
        copy = orjson.loads(paid_payloads[stripe_id])
        copy["id"] = "evt_second_word_on_it"
        body = orjson.dumps(copy)
        assert (await deliver(http, body.decode(), sign(body, WEBHOOK_SECRET))).status_code == 200
        assert await worker._repository.pending_count() == 0
    assert [c.stripe_id for c in hooks.calls] == [stripe_id, stripe_id]
    assert hooks.calls[0].session_id == "buyer-1"
    assert hooks.calls[0].amount_total == 2000


async def wait_delivered(http: Any) -> None:
    worker = services(http).fulfillment
    await asyncio.wait_for(worker.settled.wait(), 10)
    assert await worker._repository.pending_count() == 0


@pytest.fixture
async def shop() -> AsyncIterator[dict[str, Any]]:
    """The shop's own endpoint: fails the first notification, records all."""
    received: dict[str, Any] = {"calls": [], "event": asyncio.Event()}

    async def notify(request: web.Request) -> web.Response:
        body = await request.read()
        received["calls"].append((dict(request.headers), body))
        received["event"].set()
        return web.Response(status=500 if len(received["calls"]) == 1 else 204)

    app = web.Application()
    app.router.add_post("/fulfil", notify)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    received["url"] = f"http://127.0.0.1:{port}/fulfil"
    try:
        yield received
    finally:
        await runner.cleanup()


async def test_http_notification_is_signed_and_retried(
    make_settings: Callable[..., Settings], emulator: EmulatorHandle, shop: dict[str, Any]
) -> None:
    settings = make_settings(
        fulfillment_webhook_url=shop["url"], fulfillment_webhook_secret=NOTIFY_SECRET
    )
    async with running_app(settings) as http:
        stripe_id = await pay(http, emulator, "buyer-2")
        await asyncio.wait_for(shop["event"].wait(), 10)
        worker = services(http).fulfillment
        await asyncio.wait_for(worker.settled.wait(), 10)
        shop["event"].clear()
        worker.settled.clear()
        await make_due_now(http)
        await asyncio.wait_for(shop["event"].wait(), 10)
        await wait_delivered(http)

    assert len(shop["calls"]) == 2
    headers, body = shop["calls"][1]
    assert orjson.loads(body)["stripe_id"] == stripe_id
    assert orjson.loads(body)["type"] == "checkout.fulfilled"
    assert headers["Idempotency-Key"] == stripe_id
    stamp, signature = (part.split("=", 1)[1] for part in headers["Checkout-Signature"].split(","))
    expected = hmac.new(
        NOTIFY_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(signature, expected)
