"""One Stripe session per caller session id and cart: reuse, supersede, races, failures.

Every test runs on SQLite and on the real PostgreSQL, through the emulator.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from checkout_api.config import Settings
from checkout_api.store.tables import checkout_sessions
from tests.conftest import EmulatorHandle, running_app

MUG = [{"price": "price_demo_mug", "quantity": 2}]


@pytest.fixture
async def client(
    make_settings: Callable[..., Settings], database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(make_settings(database_url=database_url)) as http:
        yield http


def services(client: httpx.AsyncClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


async def rows(client: httpx.AsyncClient) -> list[Any]:
    return list(await services(client).checkout._sessions.all_rows())


async def set_columns(client: httpx.AsyncClient, stripe_id: str, **values: Any) -> None:
    async with services(client).engine.begin() as connection:
        await connection.execute(
            update(checkout_sessions)
            .where(checkout_sessions.c.stripe_id == stripe_id)
            .values(**values)
        )


async def create(
    client: httpx.AsyncClient, session_id: str = "visitor-7", items: Any = None
) -> httpx.Response:
    body: dict[str, Any] = {"session_id": session_id}
    if items is not None:
        body["items"] = items
    return await client.post("/checkoutsession", json=body)


class TestReuse:
    async def test_repeat_request_is_served_from_the_store(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        first = await create(client)
        calls_after_first = len(emulator.requests())

        again = await create(client)

        assert first.status_code == 201
        assert again.status_code == 200
        assert again.json() == first.json()
        assert len(emulator.requests()) == calls_after_first  # Stripe not called again

    async def test_item_order_does_not_change_the_cart(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        items = [{"price": "price_demo_mug", "quantity": 2}, {"price": "price_demo_tshirt"}]
        first = await create(client, items=items)
        again = await create(client, items=list(reversed(items)))
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        assert len(emulator.creates()) == 1

    async def test_other_session_ids_get_their_own_session(self, client: httpx.AsyncClient) -> None:
        one = (await create(client, "visitor-a")).json()
        two = (await create(client, "visitor-b")).json()
        assert one["id"] != two["id"]

    async def test_client_secret_is_encrypted_at_rest(self, client: httpx.AsyncClient) -> None:
        body = (await create(client)).json()
        [row] = await rows(client)
        assert row.client_secret_enc
        assert body["client_secret"].encode() not in row.client_secret_enc
        assert body["client_secret"].split("_secret_")[1].encode() not in row.client_secret_enc

    async def test_session_near_expiry_is_replaced(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        first = (await create(client)).json()
        await set_columns(client, first["id"], expires_at=int(time.time()) + 300)

        again = await create(client)

        assert again.status_code == 201
        assert again.json()["id"] != first["id"]
        await services(client).background.drain(5)
        assert emulator.requests(f"/v1/checkout/sessions/{first['id']}/expire", "POST")
        states = {row.stripe_id: row.state for row in await rows(client)}
        assert states[first["id"]] == "superseded"

    @pytest.mark.parametrize("final_state", ["complete", "expired"])
    async def test_finished_session_is_never_handed_out_again(
        self, client: httpx.AsyncClient, final_state: str
    ) -> None:
        first = (await create(client)).json()
        await set_columns(client, first["id"], state=final_state, status=final_state)

        again = await create(client)

        assert again.status_code == 201
        assert again.json()["id"] != first["id"]

    async def test_rotated_encryption_key_fetches_the_secret_from_stripe(
        self, make_settings: Callable[..., Settings], database_url: str, emulator: EmulatorHandle
    ) -> None:
        old_key, new_key = "A" * 43, "B" * 43
        async with running_app(
            make_settings(database_url=database_url, data_encryption_key=old_key)
        ) as http:
            first = (await create(http)).json()
        async with running_app(
            make_settings(database_url=database_url, data_encryption_key=new_key)
        ) as http:
            again = await create(http)
            retrieves = emulator.requests(f"/v1/checkout/sessions/{first['id']}", "GET")
            third = await create(http)

        assert again.status_code == 200
        assert again.json()["client_secret"] == first["client_secret"]
        assert len(retrieves) == 1
        assert third.json()["client_secret"] == first["client_secret"]
        assert len(emulator.requests(f"/v1/checkout/sessions/{first['id']}", "GET")) == 1
        assert len(emulator.creates()) == 1


class TestCartChange:
    async def test_changed_cart_creates_a_new_session_and_expires_the_old(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        first = (await create(client)).json()

        changed = await create(client, items=MUG)

        assert changed.status_code == 201
        assert changed.json()["id"] != first["id"]
        await services(client).background.drain(5)
        [expire] = emulator.requests(f"/v1/checkout/sessions/{first['id']}/expire", "POST")
        assert expire["status"] == 200
        assert emulator.session(first["id"])["status"] == "expired"
        states = {row.stripe_id: row.state for row in await rows(client)}
        assert states == {first["id"]: "superseded", changed.json()["id"]: "open"}
        [superseded] = [row for row in await rows(client) if row.state == "superseded"]
        assert superseded.client_secret_enc is None

    async def test_failed_expiry_never_fails_the_request(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        first = (await create(client)).json()
        emulator.control(f"/checkout/sessions/{first['id']}/complete", customer_email="a@b.example")

        changed = await create(client, items=MUG)  # the old one cannot be expired any more

        assert changed.status_code == 201
        await services(client).background.drain(5)
        [expire] = emulator.requests(f"/v1/checkout/sessions/{first['id']}/expire", "POST")
        assert expire["status"] == 400


class TestRaces:
    async def test_50_concurrent_identical_requests_make_one_stripe_session(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        emulator.faults(latency_ms=300)

        responses = await asyncio.gather(*(create(client, "racer") for _ in range(50)))

        assert [r.status_code for r in responses].count(201) == 1
        assert {r.status_code for r in responses} == {200, 201}
        assert len({r.json()["id"] for r in responses}) == 1
        assert len({r.json()["client_secret"] for r in responses}) == 1
        assert len(emulator.requests("/v1/checkout/sessions", "POST")) == 1

    async def test_a_crashed_attempt_is_taken_over_after_its_lease(
        self, make_settings: Callable[..., Settings], database_url: str, emulator: EmulatorHandle
    ) -> None:
        settings = make_settings(database_url=database_url, checkout_attempt_lease_seconds=0.5)
        async with running_app(settings) as http:
            repo = services(http).checkout._sessions
            from checkout_api.checkout.cart import Cart

            fingerprint = Cart(lines=(("price_demo_tshirt", 1),)).fingerprint()
            row_id = await repo.insert_pending("orphan", fingerprint, "k" * 32, time.time() - 1)
            assert row_id is not None

            response = await create(http, "orphan")

            assert response.status_code == 201
            [post] = emulator.requests("/v1/checkout/sessions", "POST")
            assert post["headers"]["idempotency-key"] == "k" * 32  # same logical attempt
            [row] = await rows(http)
            assert (row.id, row.state) == (row_id, "open")


class TestFailures:
    async def test_stripe_failure_leaves_no_record_and_a_later_request_succeeds(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        emulator.faults(fail_next=100, status=400, type="invalid_request_error")
        failed = await create(client)
        assert failed.status_code == 502
        assert await rows(client) == []

        emulator.faults(fail_next=0)
        response = await create(client)

        assert response.status_code == 201
        [row] = await rows(client)
        assert row.state == "open"
        assert row.stripe_id == response.json()["id"]
