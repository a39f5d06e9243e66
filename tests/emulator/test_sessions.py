"""Checkout Session endpoints through the real stripe SDK: create, retrieve, expire, and the
parameter rules Stripe enforces on create."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe

Params = Callable[..., dict[str, Any]]


async def create(client: stripe.StripeClient, params: dict[str, Any]) -> stripe.checkout.Session:
    return await client.v1.checkout.sessions.create_async(params=params)


async def rejected(
    client: stripe.StripeClient, params: dict[str, Any]
) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await create(client, params)
    assert caught.value.http_status == 400
    return caught.value


class TestCreate:
    async def test_embedded_payment_session(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        line_items = [
            {"price": "price_demo_tshirt", "quantity": 2},
            {"price": "price_demo_mug", "quantity": 1},
        ]
        session = await create(client, params(line_items=line_items))
        assert session.object == "checkout.session"
        assert session.id.startswith("cs_test_")
        assert session.client_secret.startswith(session.id + "_secret_")
        assert (session.status, session.payment_status) == ("open", "unpaid")
        assert (session.mode, session.ui_mode) == ("payment", "embedded_page")
        assert session.return_url == params()["return_url"]  # the template is kept as given
        assert session.amount_subtotal == session.amount_total == 2 * 2000 + 1200
        assert session.currency == "usd"
        assert session.metadata.to_dict() == {"order_id": "ord_123"}
        assert session.client_reference_id == "cart_42"
        assert session.expires_at - session.created == 24 * 3600
        assert session.livemode is False
        assert session.url is None
        assert session.customer_details is None
        assert session.customer_email is None
        assert "line_items" not in session

    async def test_subscription_with_recurring_price(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        membership = [{"price": "price_demo_membership", "quantity": 1}]
        session = await create(client, params(mode="subscription", line_items=membership))
        assert (session.mode, session.amount_total) == ("subscription", 900)

    async def test_hosted_page_has_url_and_no_client_secret(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        hosted = params(ui_mode="hosted_page", return_url=None, success_url="https://x.example/ok")
        session = await create(client, hosted)
        assert session.url.startswith("https://checkout.stripe.com/")
        assert session.client_secret is None

    async def test_expires_at_within_window(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        expires_at = int(time.time()) + 3600
        session = await create(client, params(expires_at=expires_at))
        assert session.expires_at == expires_at

    async def test_live_key_creates_livemode_session(
        self, params: Params, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        session = await create(make_client(key="sk_live_emulator1234"), params())
        assert session.id.startswith("cs_live_")
        assert session.livemode is True

    async def test_old_api_version_takes_old_ui_mode_names(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        session = await client.v1.checkout.sessions.create_async(
            params=params(ui_mode="embedded"),
            options={"stripe_version": "2025-03-31.basil"},
        )
        assert session.ui_mode == "embedded"


class TestCreateRejects:
    async def test_unknown_parameter(self, params: Params, client: stripe.StripeClient) -> None:
        error = await rejected(client, params(shipping_colour="red"))
        assert (error.code, error.param) == ("parameter_unknown", "shipping_colour")
        assert "Received unknown parameter: shipping_colour" in str(error)

    async def test_unknown_line_item_parameter(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        line = {"price": "price_demo_mug", "quantity": 1, "colour": "red"}
        error = await rejected(client, params(line_items=[line]))
        assert error.param == "line_items[0][colour]"

    async def test_old_ui_mode_name_with_current_version(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        error = await rejected(client, params(ui_mode="embedded"))
        assert error.param == "ui_mode"

    async def test_new_ui_mode_name_with_old_version(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.checkout.sessions.create_async(
                params=params(), options={"stripe_version": "2025-03-31.basil"}
            )
        assert caught.value.param == "ui_mode"

    async def test_return_url_with_hosted_page(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        error = await rejected(client, params(ui_mode="hosted_page"))
        assert error.param == "return_url"

    async def test_invalid_mode(self, params: Params, client: stripe.StripeClient) -> None:
        assert (await rejected(client, params(mode="donation"))).param == "mode"

    async def test_success_url_with_embedded_page(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        error = await rejected(client, params(success_url="https://shop.example/ok"))
        assert error.param == "success_url"

    async def test_missing_return_url_with_embedded_page(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        assert (await rejected(client, params(return_url=None))).param == "return_url"

    async def test_missing_line_items(self, params: Params, client: stripe.StripeClient) -> None:
        assert (await rejected(client, params(line_items=None))).param == "line_items"

    async def test_unknown_price(self, params: Params, client: stripe.StripeClient) -> None:
        error = await rejected(client, params(line_items=[{"price": "price_nope", "quantity": 1}]))
        assert (error.code, error.param) == ("resource_missing", "line_items[0][price]")
        assert "No such price: 'price_nope'" in str(error)

    async def test_quantity_below_one(self, params: Params, client: stripe.StripeClient) -> None:
        error = await rejected(
            client, params(line_items=[{"price": "price_demo_mug", "quantity": 0}])
        )
        assert error.param == "line_items[0][quantity]"

    async def test_subscription_with_one_time_prices_only(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        assert (await rejected(client, params(mode="subscription"))).param == "line_items"

    async def test_payment_with_recurring_price(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        membership = [{"price": "price_demo_membership", "quantity": 1}]
        error = await rejected(client, params(line_items=membership))
        assert error.param == "line_items[0][price]"

    async def test_metadata_value_over_500_chars(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        error = await rejected(client, params(metadata={"note": "x" * 501}))
        assert error.param == "metadata[note]"

    async def test_expires_at_too_soon(self, params: Params, client: stripe.StripeClient) -> None:
        error = await rejected(client, params(expires_at=int(time.time()) + 600))
        assert error.param == "expires_at"

    async def test_rejected_create_creates_nothing(
        self, params: Params, client: stripe.StripeClient, control: Any
    ) -> None:
        await rejected(client, params(mode="donation"))
        assert (await control.get("/stats"))["creates"] == 0
        assert await control.get("/checkout/sessions") == []


class TestRetrieve:
    async def test_returns_the_created_object(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        created = await create(client, params())
        fetched = await client.v1.checkout.sessions.retrieve_async(created.id)
        assert fetched.to_dict() == created.to_dict()

    async def test_expand_line_items(self, params: Params, client: stripe.StripeClient) -> None:
        created = await create(client, params())
        fetched = await client.v1.checkout.sessions.retrieve_async(
            created.id, params={"expand": ["line_items"]}
        )
        (item,) = fetched.line_items.data
        assert (item.price.id, item.quantity, item.amount_total) == ("price_demo_tshirt", 2, 4000)

    async def test_unknown_session_is_404(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.checkout.sessions.retrieve_async("cs_test_missing")
        assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")


class TestExpire:
    async def test_expires_an_open_session(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        created = await create(client, params())
        expired = await client.v1.checkout.sessions.expire_async(created.id)
        assert expired.status == "expired"
        fetched = await client.v1.checkout.sessions.retrieve_async(created.id)
        assert fetched.status == "expired"

    async def test_refuses_a_session_that_is_not_open(
        self, params: Params, client: stripe.StripeClient
    ) -> None:
        created = await create(client, params())
        await client.v1.checkout.sessions.expire_async(created.id)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.checkout.sessions.expire_async(created.id)
        assert caught.value.http_status == 400
