"""Line items: catalogue prices or inline `price_data`, quantities, one currency, the amounts.

Stripe's rules for line items in each mode: payment takes one-time prices only, subscription
needs at least one recurring price, setup takes none.
"""

from __future__ import annotations

import os
import string
from typing import Any

from checkout_api.emulator import schema
from checkout_api.emulator.errors import invalid, missing_parameter, resource_missing
from checkout_api.emulator.state import SessionRecord

_ALNUM = (string.ascii_letters + string.digits).encode()
_TO_ALNUM = bytes(_ALNUM[b % len(_ALNUM)] for b in range(256))


def random_id(prefix: str, length: int = 24) -> str:
    """`prefix` + `length` random letters and digits, like Stripe's object ids."""
    return prefix + os.urandom(length).translate(_TO_ALNUM).decode("ascii")


def line_items(
    value: Any, mode: str, prices: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], str | None, int | None]:
    if mode == "setup":
        if value:
            raise invalid("line_items", "You cannot pass `line_items` in `setup` mode.")
        return [], None, None
    if not value:
        raise invalid(
            "line_items", f"`line_items` is required in `{mode}` mode.", "parameter_missing"
        )
    items: list[dict[str, Any]] = []
    currency: str | None = None
    total = 0
    recurring = False
    for index, line in enumerate(value):
        where = f"line_items[{index}]"
        price = _price(line, where, prices)
        quantity = _quantity(line.get("quantity"), where)
        if currency is None:
            currency = price["currency"]
        elif price["currency"] != currency:
            raise invalid(f"{where}[price]", "All line items must use the same currency.")
        if price.get("recurring"):
            recurring = True
            if mode == "payment":
                raise invalid(
                    f"{where}[price]",
                    "You specified `payment` mode but passed a recurring price. Either switch "
                    "to `subscription` mode or use only one-time prices.",
                )
        amount = int(price["unit_amount"]) * quantity
        total += amount
        items.append(
            {
                "id": "",
                "object": "item",
                "amount_discount": 0,
                "amount_subtotal": amount,
                "amount_tax": 0,
                "amount_total": amount,
                "currency": price["currency"],
                "description": price.get("nickname") or price.get("product"),
                "metadata": schema.check_metadata(line.get("metadata"), f"{where}[metadata]"),
                "price": price,
                "quantity": quantity,
            }
        )
    if mode == "subscription" and not recurring:
        raise invalid(
            "line_items",
            "You must provide at least one recurring price in `subscription` mode when using "
            "prices.",
        )
    return items, currency, total


def _price(line: dict[str, Any], where: str, prices: dict[str, dict[str, Any]]) -> dict[str, Any]:
    price_id: str = line.get("price") or ""
    data = line.get("price_data")
    if bool(price_id) == bool(data):
        raise invalid(where, "You must specify either `price` or `price_data` for each line item.")
    if data:
        return _inline_price(data, f"{where}[price_data]")
    price = prices.get(price_id)
    if price is None:
        raise resource_missing("price", price_id, f"{where}[price]")
    if not price.get("active", True):
        raise invalid(
            f"{where}[price]",
            "The price specified is inactive. This field only accepts active prices.",
        )
    return price


def _inline_price(data: dict[str, Any], where: str) -> dict[str, Any]:
    for name in ("currency", "unit_amount"):
        if not data.get(name):
            raise missing_parameter(f"{where}[{name}]")
    if not data.get("product") and not data.get("product_data"):
        raise invalid(where, "You must specify either `product` or `product_data`.")
    recurring = data.get("recurring") or None
    product = data.get("product") or random_id("prod_", 14)
    return {
        "id": random_id("price_", 24),
        "object": "price",
        "active": False,
        "currency": data["currency"].lower(),
        "nickname": (data.get("product_data") or {}).get("name"),
        "product": product,
        "recurring": recurring,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": int(data["unit_amount"]),
        "unit_amount_decimal": data["unit_amount"],
    }


def _quantity(value: str | None, where: str) -> int:
    if value is None:
        raise invalid(
            f"{where}[quantity]",
            f"Quantity is required. Add `quantity` to `{where}`",
            "parameter_missing",
        )
    quantity = int(value)
    if quantity < 1:
        raise invalid(f"{where}[quantity]", "This value must be greater than or equal to 1.")
    if quantity > 999_999:
        raise invalid(f"{where}[quantity]", "This value must be less than or equal to 999999.")
    return quantity


def line_items_list(record: SessionRecord) -> dict[str, Any]:
    return {
        "object": "list",
        "data": record.line_items,
        "has_more": False,
        "url": f"/v1/checkout/sessions/{record.fields['id']}/line_items",
    }
