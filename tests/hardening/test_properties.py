"""Property tests for the validators: whatever arrives, the answer is a documented 4xx problem
or a valid value, never an unexpected exception (which would be a 500).

Covers the request body path (media type, size, card screen, CheckoutSessionIn), the cart
allowlist, the card-number screen and log redaction, and configuration parsing.
"""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.requests import Request

from checkout_api.api.body import read_json_model
from checkout_api.api.problems import render
from checkout_api.api.schemas import CheckoutSessionIn
from checkout_api.checkout.cart import Cart, build_cart
from checkout_api.checkout.pci import contains_card_number, luhn_valid
from checkout_api.config import describe_errors, load_settings
from checkout_api.errors import ProblemError, RequestValidationFailed
from checkout_api.logging import redact

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)
LIMIT = 2048
BODY_STATUSES = {413, 415, 422}
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
line_items = st.fixed_dictionaries(
    {},
    optional={
        "price": st.sampled_from(["price_demo_tshirt", "price_demo_mug", ""]) | json_values,
        "quantity": st.integers(min_value=-5, max_value=200) | json_values,
        "extra": json_values,
    },
)
checkout_bodies = st.fixed_dictionaries(
    {},
    optional={
        "session_id": st.text(alphabet=string.ascii_letters + string.digits + "-_.: ", max_size=220)
        | json_values,
        "items": st.lists(line_items, max_size=25) | json_values,
        "note": json_values,
    },
)
raw_bodies = (
    checkout_bodies.map(lambda body: json.dumps(body).encode())
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=3 * LIMIT)
)
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", ""]
)


def caught(call: Callable[[], T], error: type[E]) -> T | E:
    """The call's result, or the expected error it raised (anything else propagates)."""
    try:
        return call()
    except error as raised:
        return raised


def request_with(body: bytes, content_type: str, chunk: int, declare_length: bool) -> Request:
    headers = [(b"content-type", content_type.encode())] if content_type else []
    if declare_length:
        headers.append((b"content-length", str(len(body)).encode()))
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [
        {"type": "http.request", "body": piece, "more_body": n < len(pieces) - 1}
        for n, piece in enumerate(pieces)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/checkoutsession", "headers": headers}
    return Request(scope, receive)


class TestRequestBody:
    @PROPERTY_SETTINGS
    @given(
        body=raw_bodies,
        content_type=content_types,
        chunk=st.integers(min_value=1, max_value=4096),
        declare_length=st.booleans(),
    )
    def test_any_body_is_a_model_or_a_documented_problem(
        self, body: bytes, content_type: str, chunk: int, declare_length: bool
    ) -> None:
        request = request_with(body, content_type, chunk, declare_length)
        model = caught(
            lambda: asyncio.run(read_json_model(request, CheckoutSessionIn, LIMIT)), ProblemError
        )
        if isinstance(model, ProblemError):
            assert model.status in BODY_STATUSES, (model.status, model.code)
            response = render(None, model)
            assert response.status_code == model.status
            assert json.loads(response.body)["code"] == model.code
            if model.code == "card_data_rejected":
                assert contains_card_number(body)
            return
        assert content_type.split(";")[0].strip().lower() == "application/json"
        assert len(body) <= LIMIT
        assert 1 <= len(model.session_id) <= 200
        assert model.items is None or 1 <= len(model.items) <= 20


allowlists = st.lists(
    st.from_regex(r"price_[a-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=5, unique=True
)


class TestCart:
    @PROPERTY_SETTINGS
    @given(
        allowlist=allowlists,
        items=st.lists(
            st.tuples(
                st.from_regex(r"price_[a-z0-9]{1,8}", fullmatch=True) | st.text(max_size=12),
                st.integers(min_value=1, max_value=99),
            ),
            max_size=8,
        ),
        pick=st.data(),
    )
    def test_a_cart_holds_only_allowlisted_prices_once_each(
        self,
        allowlist: list[str],
        items: list[tuple[str, int]],
        pick: st.DataObject,
    ) -> None:
        # Mix in prices from the allowlist so both outcomes are exercised.
        items = items + pick.draw(
            st.lists(st.tuples(st.sampled_from(allowlist), st.integers(1, 99)), max_size=3)
        )
        cart = caught(lambda: build_cart(items, allowlist), RequestValidationFailed)
        if isinstance(cart, RequestValidationFailed):
            assert cart.status == 422
            bad = {error["field"] for error in cart.extra["errors"]}
            prices = [price for price, _ in items]
            expected = {
                f"items[{n}].price"
                for n, price in enumerate(prices)
                if price not in allowlist or price in prices[:n]
            }
            assert bad == expected
            return
        if not items:
            assert cart.lines == ((allowlist[0], 1),)
        else:
            assert cart.lines == tuple(items)
            assert all(price in allowlist for price, _ in cart.lines)
            assert len({price for price, _ in cart.lines}) == len(cart.lines)

    @PROPERTY_SETTINGS
    @given(lines=st.lists(st.tuples(st.text(max_size=8), st.integers(1, 99)), max_size=6))
    def test_the_fingerprint_ignores_order(self, lines: list[tuple[str, int]]) -> None:
        assert Cart(tuple(lines)).fingerprint() == Cart(tuple(reversed(lines))).fingerprint()


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """A Luhn-valid 13-19 digit number starting with a card network's digit (2-6)."""
    length = draw(st.integers(min_value=13, max_value=19))
    body = draw(st.sampled_from("23456")) + "".join(
        draw(st.lists(st.sampled_from(string.digits), min_size=length - 2, max_size=length - 2))
    )
    for check in string.digits:
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("some check digit always satisfies Luhn")


def grouped(number: str, separator: str) -> str:
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


around = st.text(alphabet=string.ascii_letters + " :\"{},'", max_size=20)
delimiter = st.sampled_from(list(" :\"{},'/="))


class TestCardScreen:
    @PROPERTY_SETTINGS
    @given(
        number=card_numbers(),
        separator=st.sampled_from(["", " ", "-"]),
        before=around,
        after=around,
    )
    def test_a_request_with_a_card_number_in_any_grouping_is_caught(
        self, number: str, separator: str, before: str, after: str
    ) -> None:
        assert contains_card_number((before + grouped(number, separator) + after).encode())

    @PROPERTY_SETTINGS
    @given(
        number=card_numbers(),
        separator=st.sampled_from(["", " ", "-"]),
        before=st.tuples(around, delimiter).map("".join),
        after=st.tuples(delimiter, around).map("".join),
    )
    def test_a_delimited_card_number_is_redacted_from_logs(
        self, number: str, separator: str, before: str, after: str
    ) -> None:
        """Redaction leaves runs glued to letters alone (hex request ids); those never get
        in: the body screen refuses them and the middleware drops such a request id."""
        text = before + grouped(number, separator) + after

        logged = json.dumps(
            redact(None, "info", {"event": "x", "field": text, "nested": {"v": [text]}})
        )

        assert number not in logged
        assert grouped(number, separator) not in logged

    @PROPERTY_SETTINGS
    @given(number=card_numbers(), position=st.integers(min_value=0, max_value=18))
    def test_one_wrong_digit_is_not_a_card(self, number: str, position: int) -> None:
        assume(position < len(number))
        digit = str((int(number[position]) + 1) % 10)
        wrong = number[:position] + digit + number[position + 1 :]
        assume(wrong[0] in "23456")
        assert not contains_card_number(wrong.encode())

    @PROPERTY_SETTINGS
    @given(body=st.binary(max_size=4096))
    def test_the_screen_never_raises(self, body: bytes) -> None:
        assert contains_card_number(body) in (True, False)


SECRET = "sk_test_PropertySecret0123456789"
GOOD: dict[str, Any] = {
    "stripe_secret_key": SECRET,
    "checkout_prices": "price_a,price_b",
    "checkout_return_url": "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
    "_env_file": None,
}
config_text = st.text(max_size=40) | st.sampled_from(
    [
        "",
        ",",
        "*",
        "30/minute",
        "10 per second",
        "0/minute",
        "http://127.0.0.1",
        "::1",
        "10.0.0.0/8",
    ]
)


class TestConfiguration:
    @PROPERTY_SETTINGS
    @given(
        field=st.sampled_from(
            [
                "rate_limit",
                "session_rate_limit",
                "trusted_proxies",
                "cors_allow_origins",
                "stripe_api_base",
                "checkout_prices",
                "checkout_return_url",
                "checkout_deadline_seconds",
                "max_body_bytes",
                "log_level",
                "stripe_webhook_secret",
                "https_proxy",
            ]
        ),
        value=config_text,
    )
    def test_any_value_loads_or_fails_with_one_line_naming_the_variable(
        self, field: str, value: str
    ) -> None:
        loaded = caught(lambda: load_settings(**{**GOOD, field: value}), ValidationError)
        if isinstance(loaded, ValidationError):
            lines = describe_errors(loaded)
            assert lines
            for line in lines:
                assert line.split(":", 1)[0] in {field.upper(), "CONFIGURATION"}
                assert SECRET not in line

    @PROPERTY_SETTINGS
    # Long enough not to occur in the messages' own text by chance ("_liv" is in "sk_live_").
    @given(key=st.text(min_size=10, max_size=60))
    def test_a_bad_secret_key_is_never_echoed(self, key: str) -> None:
        loaded = caught(
            lambda: load_settings(**{**GOOD, "stripe_secret_key": key}), ValidationError
        )
        if isinstance(loaded, ValidationError):
            assert all(key not in line for line in describe_errors(loaded))
        else:
            assert key not in repr(loaded)


@pytest.mark.parametrize("number", ["4242424242424242", "4000 0566 5566 5556"])
def test_the_known_test_cards_are_caught(number: str) -> None:
    assert contains_card_number(number.encode())
