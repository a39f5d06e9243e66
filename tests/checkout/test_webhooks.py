"""Signed webhooks, exactly-once fulfillment and a session status that stays true.

Events are produced by the emulator (like `stripe trigger`) and signed with the one shared
signing helper; every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
import structlog
from sqlalchemy import select, text

from checkout_api.config import Settings
from checkout_api.emulator.signing import sign
from checkout_api.store.tables import webhook_events
from tests.api.test_checkout_session import assert_problem
from tests.conftest import WEBHOOK_SECRET, EmulatorHandle, running_app

OLD_SECRET = "whsec_test_old_secret"


@pytest.fixture
async def client(
    make_settings: Callable[..., Settings], database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(make_settings(database_url=database_url)) as http:
        yield http


def services(client: httpx.AsyncClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


async def new_session(client: httpx.AsyncClient, session_id: str = "shopper-1") -> str:
    response = await client.post("/checkoutsession", json={"session_id": session_id})
    assert response.status_code == 201
    return str(response.json()["id"])


async def deliver(client: httpx.AsyncClient, payload: str, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["stripe-signature"] = signature
    return await client.post("/webhook", content=payload.encode(), headers=headers)


def trigger(emulator: EmulatorHandle, stripe_id: str, action: str, **body: Any) -> dict[str, Any]:
    """Change the session at the emulator; returns the signed event, not delivered."""
    return emulator.control(
        f"/checkout/sessions/{stripe_id}/{action}", webhook_secret=WEBHOOK_SECRET, **body
    )


async def stored(client: httpx.AsyncClient, stripe_id: str) -> Any:
    return await services(client).checkout._sessions.find_by_stripe_id(stripe_id)


async def events_recorded(client: httpx.AsyncClient) -> list[Any]:
    async with services(client).engine.connect() as connection:
        return list((await connection.execute(select(webhook_events))).all())


def fulfilled_logs(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == "checkout.fulfilled"]


class TestVerification:
    async def test_valid_completed_event_is_applied_and_fulfilled(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        stripe_id = await new_session(client)
        event = trigger(emulator, stripe_id, "complete", customer_email="jenny@example.com")

        with structlog.testing.capture_logs() as logs:
            response = await deliver(client, event["payload"], event["signature"])

        assert response.status_code == 200
        assert response.json() == {
            "received": True,
            "event_id": event["event"]["id"],
            "duplicate": False,
        }
        row = await stored(client, stripe_id)
        assert (row.state, row.status, row.payment_status) == ("complete", "complete", "paid")
        assert row.customer_email == "jenny@example.com"
        assert row.fulfilled_at is not None
        assert row.client_secret_enc is None  # final: the credential is wiped
        [log] = fulfilled_logs(logs)
        assert (log["session_id"], log["stripe_id"]) == ("shopper-1", stripe_id)

    @pytest.mark.parametrize(
        "make_signature",
        [
            pytest.param(lambda payload: None, id="missing"),
            pytest.param(lambda payload: "garbage", id="malformed"),
            pytest.param(lambda payload: "t=abc,v1=00", id="malformed-timestamp"),
            pytest.param(
                lambda payload: sign(payload, WEBHOOK_SECRET, int(time.time()) - 301), id="stale"
            ),
            pytest.param(lambda payload: sign(payload, "whsec_someone_else"), id="wrong-secret"),
            pytest.param(lambda payload: sign(payload + b" ", WEBHOOK_SECRET), id="other-body"),
        ],
    )
    async def test_bad_signature_is_refused_with_nothing_recorded(
        self,
        client: httpx.AsyncClient,
        emulator: EmulatorHandle,
        make_signature: Callable[[bytes], str | None],
    ) -> None:
        stripe_id = await new_session(client)
        event = trigger(emulator, stripe_id, "complete")

        response = await deliver(
            client, event["payload"], make_signature(event["payload"].encode())
        )

        assert_problem(response, 400, "webhook_signature_invalid")
        assert await events_recorded(client) == []
        row = await stored(client, stripe_id)
        assert (row.status, row.fulfilled_at) == ("open", None)

    async def test_no_secret_configured_refuses_every_event(
        self, make_settings: Callable[..., Settings], emulator: EmulatorHandle
    ) -> None:
        async with running_app(make_settings(stripe_webhook_secret="")) as http:
            stripe_id = await new_session(http)
            event = trigger(emulator, stripe_id, "complete")
            response = await deliver(http, event["payload"], event["signature"])
            ready = (await http.get("/readyz")).json()

        assert_problem(response, 503, "webhook_not_configured")
        assert "STRIPE_WEBHOOK_SECRET" in ready["checks"]["webhooks"]

    async def test_rotation_accepts_every_configured_secret(
        self, make_settings: Callable[..., Settings], database_url: str, emulator: EmulatorHandle
    ) -> None:
        settings = make_settings(
            database_url=database_url, stripe_webhook_secret=f"{WEBHOOK_SECRET},{OLD_SECRET}"
        )
        async with running_app(settings) as http:
            first, second = await new_session(http, "a"), await new_session(http, "b")
            new_event = trigger(emulator, first, "complete")
            old_event = emulator.control(
                f"/checkout/sessions/{second}/complete", webhook_secret=OLD_SECRET
            )
            payload = old_event["payload"].encode()

            assert (
                await deliver(http, new_event["payload"], new_event["signature"])
            ).status_code == 200
            assert (
                await deliver(http, old_event["payload"], old_event["signature"])
            ).status_code == 200
            refused = await deliver(http, old_event["payload"], sign(payload, "whsec_retired"))
        assert refused.status_code == 400


class TestExactlyOnce:
    async def test_redelivered_event_changes_nothing(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        stripe_id = await new_session(client)
        event = trigger(emulator, stripe_id, "complete")
        await deliver(client, event["payload"], event["signature"])
        before = await stored(client, stripe_id)

        with structlog.testing.capture_logs() as logs:
            again = await deliver(client, event["payload"], event["signature"])

        assert again.status_code == 200
        assert again.json()["duplicate"] is True
        assert await stored(client, stripe_id) == before
        assert fulfilled_logs(logs) == []
        assert len(await events_recorded(client)) == 1

    async def test_20_concurrent_deliveries_fulfill_once(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        stripe_id = await new_session(client)
        event = trigger(emulator, stripe_id, "complete")

        with structlog.testing.capture_logs() as logs:
            responses = await asyncio.gather(
                *(deliver(client, event["payload"], event["signature"]) for _ in range(20))
            )

        assert {r.status_code for r in responses} == {200}
        assert [r.json()["duplicate"] for r in responses].count(False) == 1
        assert len(fulfilled_logs(logs)) == 1
        assert len(await events_recorded(client)) == 1

    async def test_failed_handling_answers_5xx_and_the_retry_applies_it(
        self, make_settings: Callable[..., Settings], database_url: str, emulator: EmulatorHandle
    ) -> None:
        settings = make_settings(
            database_url=database_url, fulfillment_hook="tests.checkout.hooks:record"
        )
        async with running_app(settings) as http:
            stripe_id = await new_session(http)
            event = trigger(emulator, stripe_id, "complete")
            async with services(http).engine.begin() as connection:
                await connection.execute(
                    text("ALTER TABLE fulfillments RENAME TO fulfillments_away")
                )

            failed = await deliver(http, event["payload"], event["signature"])

            assert_problem(failed, 500, "internal_error")
            assert await events_recorded(http) == []
            assert (await stored(http, stripe_id)).fulfilled_at is None
            async with services(http).engine.begin() as connection:
                await connection.execute(
                    text("ALTER TABLE fulfillments_away RENAME TO fulfillments")
                )

            retried = await deliver(http, event["payload"], event["signature"])

            assert retried.status_code == 200
            assert retried.json()["duplicate"] is False
            assert (await stored(http, stripe_id)).fulfilled_at is not None


class TestOrdering:
    async def test_an_older_event_never_moves_a_paid_session_back(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        stripe_id = await new_session(client)
        unpaid = trigger(emulator, stripe_id, "complete", payment_status="unpaid")
        paid = trigger(emulator, stripe_id, "async_payment", succeeded=True)

        with structlog.testing.capture_logs() as logs:
            assert (await deliver(client, paid["payload"], paid["signature"])).status_code == 200
            assert (
                await deliver(client, unpaid["payload"], unpaid["signature"])
            ).status_code == 200

        row = await stored(client, stripe_id)
        assert (row.status, row.payment_status) == ("complete", "paid")
        assert len(fulfilled_logs(logs)) == 1

    async def test_an_event_for_an_open_session_cannot_reopen_a_completed_one(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        stripe_id = await new_session(client)
        done = trigger(emulator, stripe_id, "complete")
        await deliver(client, done["payload"], done["signature"])
        stale = orjson.loads(done["payload"])
        stale["id"] = "evt_stale_open_copy"
        stale["created"] -= 60
        stale["data"]["object"].update(
            status="open", payment_status="unpaid", customer_details=None
        )
        payload = orjson.dumps(stale)

        assert (
            await deliver(client, payload.decode(), sign(payload, WEBHOOK_SECRET))
        ).status_code == 200

        row = await stored(client, stripe_id)
        assert (row.status, row.payment_status, row.state) == ("complete", "paid", "complete")


class TestPaths:
    async def test_async_payment_success_fulfills_after_an_unpaid_completion(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        stripe_id = await new_session(client)
        completed = trigger(emulator, stripe_id, "complete", payment_status="unpaid")
        with structlog.testing.capture_logs() as logs:
            await deliver(client, completed["payload"], completed["signature"])
        assert fulfilled_logs(logs) == []
        assert (await stored(client, stripe_id)).fulfilled_at is None

        succeeded = trigger(emulator, stripe_id, "async_payment", succeeded=True)
        with structlog.testing.capture_logs() as logs:
            await deliver(client, succeeded["payload"], succeeded["signature"])

        assert len(fulfilled_logs(logs)) == 1
        assert (await stored(client, stripe_id)).payment_status == "paid"

    async def test_async_payment_failure_never_fulfills(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        stripe_id = await new_session(client)
        completed = trigger(emulator, stripe_id, "complete", payment_status="unpaid")
        failed = trigger(emulator, stripe_id, "async_payment", succeeded=False)

        with structlog.testing.capture_logs() as logs:
            for event in (completed, failed):
                assert (
                    await deliver(client, event["payload"], event["signature"])
                ).status_code == 200

        row = await stored(client, stripe_id)
        assert (row.status, row.payment_status, row.fulfilled_at) == ("complete", "unpaid", None)
        assert [e["event"] for e in logs if e["event"] == "checkout.payment_failed"] == [
            "checkout.payment_failed"
        ]

    async def test_expired_session_is_recorded_and_replaced_on_the_next_request(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        stripe_id = await new_session(client)
        expired = trigger(emulator, stripe_id, "expire")

        assert (await deliver(client, expired["payload"], expired["signature"])).status_code == 200

        row = await stored(client, stripe_id)
        assert (row.state, row.status, row.client_secret_enc) == ("expired", "expired", None)
        again = await client.post("/checkoutsession", json={"session_id": "shopper-1"})
        assert again.status_code == 201
        assert again.json()["id"] != stripe_id

    async def test_event_for_an_unknown_session_is_recorded(
        self, client: httpx.AsyncClient
    ) -> None:
        event = {
            "id": "evt_unknown_1",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": "cs_test_notours",
                    "object": "checkout.session",
                    "status": "complete",
                    "payment_status": "paid",
                }
            },
        }
        payload = orjson.dumps(event)

        response = await deliver(client, payload.decode(), sign(payload, WEBHOOK_SECRET))

        assert response.status_code == 200
        [recorded] = await events_recorded(client)
        assert (recorded.id, recorded.result, recorded.object_id) == (
            "evt_unknown_1",
            "unknown_session",
            "cs_test_notours",
        )
        assert orjson.loads(recorded.payload)["data"]["object"]["id"] == "cs_test_notours"

    async def test_unknown_event_types_are_acknowledged_and_ignored(
        self, client: httpx.AsyncClient
    ) -> None:
        payload = orjson.dumps(
            {
                "id": "evt_other",
                "object": "event",
                "type": "invoice.paid",
                "created": int(time.time()),
                "data": {"object": {"id": "in_1"}},
            }
        )
        response = await deliver(client, payload.decode(), sign(payload, WEBHOOK_SECRET))
        assert response.status_code == 200
        [recorded] = await events_recorded(client)
        assert recorded.result == "ignored"


class TestReturnPage:
    async def test_status_is_right_before_and_after_the_webhook(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        stripe_id = await new_session(client)
        before = (await client.get("/session-status", params={"session_id": stripe_id})).json()
        assert (before["status"], before["payment_status"]) == ("open", "unpaid")
        event = trigger(emulator, stripe_id, "complete", customer_email="jenny@example.com")

        with structlog.testing.capture_logs() as logs:
            early = (await client.get("/session-status", params={"session_id": stripe_id})).json()
            delivered = await deliver(client, event["payload"], event["signature"])
        retrieves = len(emulator.requests(f"/v1/checkout/sessions/{stripe_id}", "GET"))
        after = (await client.get("/session-status", params={"session_id": stripe_id})).json()

        assert early == {
            "id": stripe_id,
            "status": "complete",
            "payment_status": "paid",
            "customer_email": "jenny@example.com",
        }
        assert delivered.status_code == 200
        assert len(fulfilled_logs(logs)) == 1  # the refresh fulfilled it; the webhook did not again
        assert fulfilled_logs(logs)[0]["source"] == "status_refresh"
        assert after == early
        assert (
            len(emulator.requests(f"/v1/checkout/sessions/{stripe_id}", "GET")) == retrieves
        )  # from the store
