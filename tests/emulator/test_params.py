"""Stripe's form encoding and the parameter tree derived from the stripe SDK's typed params."""

from __future__ import annotations

import typing

import pytest
from stripe._request_options import RequestOptions
from stripe.params.checkout import SessionCreateParams, SessionCreateParamsLineItem

from checkout_api.emulator import schema
from checkout_api.emulator.errors import StripeError, mask_key
from checkout_api.emulator.forms import FormError, parse_form


class TestParseForm:
    def test_nested_brackets_make_dicts_and_lists(self) -> None:
        parsed = parse_form(
            "mode=payment&line_items[0][price]=p1&line_items[0][quantity]=2"
            "&line_items[1][price]=p2&metadata[session_id]=s%201&expand[]=a&expand[]=b"
        )
        assert parsed == {
            "mode": "payment",
            "line_items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
            "metadata": {"session_id": "s 1"},
            "expand": ["a", "b"],
        }

    def test_indices_are_ordered_numerically(self) -> None:
        parsed = parse_form("items[10]=k&items[2]=c")
        assert parsed == {"items": ["c", "k"]}

    def test_scalar_then_hash_is_an_error(self) -> None:
        with pytest.raises(FormError):
            parse_form("metadata=x&metadata[k]=v")


class TestDerivedSchema:
    def test_top_level_names_are_the_sdks_minus_request_options(self) -> None:
        declared = set(SessionCreateParams.__annotations__) - set(RequestOptions.__annotations__)
        assert set(schema.CREATE_FIELDS) == declared
        assert {"api_key", "idempotency_key", "stripe_account"}.isdisjoint(schema.CREATE_FIELDS)

    def test_line_item_names_are_the_sdks(self) -> None:
        assert set(schema.LINE_ITEM_FIELDS) == set(SessionCreateParamsLineItem.__annotations__)

    def test_mode_values_come_from_the_sdk_literal(self) -> None:
        annotation = typing.get_args(SessionCreateParams.__annotations__["mode"])[0]
        for mode in schema.MODES:
            assert f"'{mode}'" in annotation.__forward_arg__

    @pytest.mark.parametrize(
        ("version", "accepted", "refused"),
        [
            ("2026-03-25.dahlia", "embedded_page", "embedded"),
            ("2026-10-28.endive", "elements", "custom"),
            ("2025-03-31.basil", "embedded", "embedded_page"),
        ],
    )
    def test_ui_modes_follow_the_api_version(
        self, version: str, accepted: str, refused: str
    ) -> None:
        assert accepted in schema.ui_modes(version)
        assert refused not in schema.ui_modes(version)

    @pytest.mark.parametrize(
        ("form", "param"),
        [
            ("shipping_colour=red", "shipping_colour"),
            ("line_items[0][price]=p&line_items[0][colour]=red", "line_items[0][colour]"),
            ("line_items[0][quantity]=two", "line_items[0][quantity]"),
            ("custom_text[submit][shout]=hi", "custom_text[submit][shout]"),
            ("mode=donation", "mode"),
            ("metadata=text", "metadata"),
        ],
    )
    def test_check_names_the_offending_param(self, form: str, param: str) -> None:
        with pytest.raises(StripeError) as caught:
            schema.check(parse_form(form), schema.CREATE_FIELDS)
        assert (caught.value.status, caught.value.param) == (400, param)


def test_mask_key_never_shows_the_middle() -> None:
    masked = mask_key("sk_test_51HsecretsecretXYZW")
    assert masked.startswith("sk_test_")
    assert masked.endswith("XYZW")
    assert "secret" not in masked
