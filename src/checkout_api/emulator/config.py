"""Emulator configuration and the demo price catalogue.

`EmulatorConfig` is what `create_app`, `run` and `start_in_thread` take; `DEMO_PRICES` is the
default catalogue (price objects shaped like Stripe's published `price` fixture).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_CREATED = 1_767_225_600  # 2026-01-01T00:00:00Z, a fixed creation time for the demo catalogue


def _price(
    price_id: str, *, product: str, nickname: str, unit_amount: int, interval: str | None = None
) -> dict[str, Any]:
    recurring = (
        None
        if interval is None
        else {
            "interval": interval,
            "interval_count": 1,
            "meter": None,
            "usage_type": "licensed",
            "trial_period_days": None,
        }
    )
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": _CREATED,
        "currency": "usd",
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": nickname,
        "product": product,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time" if interval is None else "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


DEMO_PRICES: dict[str, dict[str, Any]] = {
    "price_demo_tshirt": _price(
        "price_demo_tshirt", product="prod_demo_tshirt", nickname="T-shirt", unit_amount=2000
    ),
    "price_demo_mug": _price(
        "price_demo_mug", product="prod_demo_mug", nickname="Mug", unit_amount=1200
    ),
    "price_demo_membership": _price(
        "price_demo_membership",
        product="prod_demo_membership",
        nickname="Membership",
        unit_amount=900,
        interval="month",
    ),
}


@dataclass
class EmulatorConfig:
    """How one emulator instance behaves.

    `api_keys=None` accepts any key starting with sk_test_, rk_test_, sk_live_ or rk_live_;
    a set accepts only those keys. `rate_limit_per_second=None` turns the limiter off.
    """

    latency_ms: float = 0
    rate_limit_per_second: float | None = None
    api_keys: frozenset[str] | None = None
    prices: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEMO_PRICES))
    webhook_url: str | None = None
    webhook_secret: str | None = None
