"""POST /checkoutsession: the parameters Stripe receives, validation, and the response."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from tests.conftest import EmulatorHandle


async def post(client: httpx.AsyncClient, body: Any, **kwargs: Any) -> httpx.Response:
    return await client.post("/checkoutsession", json=body, **kwargs)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return problem


class TestCreate:
    async def test_answers_201_with_the_client_secret_under_both_names(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        response = await post(client, {"session_id": "visitor-42"})

        assert response.status_code == 201
        body = response.json()
        assert set(body) == {
            "id",
            "client_secret",
            "clientSecret",
            "status",
            "expires_at",
            "session_id",
        }
        assert body["id"].startswith("cs_test_")
        assert body["client_secret"] == body["clientSecret"]
        assert body["client_secret"] == emulator.session(body["id"])["client_secret"]
        assert body["status"] == "open"
        assert body["session_id"] == "visitor-42"
        assert body["expires_at"] == emulator.session(body["id"])["expires_at"]

    async def test_sends_stripe_exactly_the_embedded_checkout_parameters(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        await post(client, {"session_id": "visitor-42"})

        [call] = emulator.requests("/v1/checkout/sessions", "POST")
        assert call["params"] == {
            "ui_mode": "embedded_page",
            "mode": "payment",
            "line_items": [{"price": "price_demo_tshirt", "quantity": "1"}],
            "return_url": "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
            "client_reference_id": "visitor-42",
            "metadata": {"session_id": "visitor-42"},
        }
        headers = call["headers"]
        assert headers["stripe-version"] == stripe._api_version._ApiVersion.CURRENT
        assert len(headers["idempotency-key"]) >= 32
        assert headers["authorization"].startswith("Bearer sk_test_")
        assert "visitor-42" not in headers["idempotency-key"]

    async def test_items_become_line_items_from_the_allowlist(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        items = [
            {"price": "price_demo_mug", "quantity": 3},
            {"price": "price_demo_tshirt", "quantity": 1},
        ]
        response = await post(client, {"session_id": "cart:7", "items": items})

        assert response.status_code == 201
        [call] = emulator.requests("/v1/checkout/sessions", "POST")
        assert call["params"]["line_items"] == [
            {"price": "price_demo_mug", "quantity": "3"},
            {"price": "price_demo_tshirt", "quantity": "1"},
        ]
        assert emulator.session(response.json()["id"])["amount_total"] == 3 * 1200 + 2000

    async def test_longest_allowed_session_id_is_accepted(self, client: httpx.AsyncClient) -> None:
        session_id = "a.b-c_d:" * 25
        response = await post(client, {"session_id": session_id})
        assert response.status_code == 201
        assert response.json()["session_id"] == session_id


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "session_id"),
            ({"session_id": ""}, "session_id"),
            ({"session_id": "x" * 201}, "session_id"),
            ({"session_id": "has space"}, "session_id"),
            ({"session_id": "tab\there"}, "session_id"),
            ({"session_id": "nul\u0000"}, "session_id"),
            ({"session_id": "ünïcode"}, "session_id"),
            ({"session_id": 12345}, "session_id"),
            ({"session_id": None}, "session_id"),
            ({"session_id": "ok", "items": []}, "items"),
            ({"session_id": "ok", "items": [{"price": "price_demo_mug"}] * 21}, "items"),
            (
                {"session_id": "ok", "items": [{"price": "price_demo_mug", "quantity": 0}]},
                "items[0].quantity",
            ),
            (
                {"session_id": "ok", "items": [{"price": "price_demo_mug", "quantity": 100}]},
                "items[0].quantity",
            ),
            (
                {"session_id": "ok", "items": [{"price": "price_demo_mug", "quantity": "2"}]},
                "items[0].quantity",
            ),
            (
                {"session_id": "ok", "items": [{"price": "price_demo_mug", "quantity": 1.5}]},
                "items[0].quantity",
            ),
            ({"session_id": "ok", "items": [{"quantity": 1}]}, "items[0].price"),
            (
                {"session_id": "ok", "items": [{"price": "price_demo_mug", "amount": 1}]},
                "items[0].amount",
            ),
            ({"session_id": "ok", "unexpected": 1}, "unexpected"),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle, body: Any, field: str
    ) -> None:
        response = await post(client, body)

        problem = assert_problem(response, 422, "validation_failed")
        assert field in [error["field"] for error in problem["errors"]]
        assert field in problem["detail"]
        assert emulator.requests("/v1/checkout/sessions") == []

    async def test_unknown_price_is_422_naming_the_item(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        items = [{"price": "price_demo_mug"}, {"price": "price_not_offered", "quantity": 1}]
        response = await post(client, {"session_id": "ok", "items": items})

        problem = assert_problem(response, 422, "validation_failed")
        assert problem["errors"] == [
            {"field": "items[1].price", "message": "is not an offered price"}
        ]
        assert emulator.requests("/v1/checkout/sessions") == []

    async def test_duplicate_price_is_422(self, client: httpx.AsyncClient) -> None:
        items = [{"price": "price_demo_mug"}, {"price": "price_demo_mug", "quantity": 2}]
        problem = assert_problem(
            await post(client, {"session_id": "ok", "items": items}), 422, "validation_failed"
        )
        assert problem["errors"][0]["field"] == "items[1].price"

    async def test_malformed_json_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/checkoutsession",
            content=b'{"session_id": ',
            headers={"content-type": "application/json"},
        )
        assert_problem(response, 422, "validation_failed")

    async def test_body_that_is_not_an_object_is_422(self, client: httpx.AsyncClient) -> None:
        assert_problem(await post(client, ["visitor"]), 422, "validation_failed")


class TestSessionStatus:
    async def test_reports_an_open_session(self, client: httpx.AsyncClient) -> None:
        created = (await post(client, {"session_id": "visitor-1"})).json()

        response = await client.get("/session-status", params={"session_id": created["id"]})

        assert response.status_code == 200
        assert response.json() == {
            "id": created["id"],
            "status": "open",
            "payment_status": "unpaid",
            "customer_email": None,
        }

    async def test_unknown_session_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/session-status", params={"session_id": "cs_test_doesnotexist"}
        )
        assert_problem(response, 404, "not_found")

    @pytest.mark.parametrize("session_id", ["", "pi_123", "cs_test_", "cs_test_a b", "../etc"])
    async def test_malformed_id_is_422(self, client: httpx.AsyncClient, session_id: str) -> None:
        response = await client.get("/session-status", params={"session_id": session_id})
        problem = assert_problem(response, 422, "validation_failed")
        assert problem["errors"][0]["field"] == "session_id"

    async def test_missing_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/session-status"), 422, "validation_failed")
