"""Configuration is validated at start-up, one clear line per problem naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from checkout_api.config import describe_errors, load_settings

GOOD: dict[str, Any] = {
    "stripe_secret_key": "sk_test_abc",
    "checkout_prices": "price_a,price_b",
    "checkout_return_url": "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
    "_env_file": None,
}


def problems(**overrides: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        load_settings(**{**GOOD, **overrides})
    return describe_errors(caught.value)


def test_good_configuration_loads_and_hides_the_key() -> None:
    settings = load_settings(**GOOD)
    assert settings.checkout_prices == ["price_a", "price_b"]
    assert settings.default_price == "price_a"
    assert settings.checkout_mode == "payment"
    assert "sk_test_abc" not in repr(settings)
    assert "sk_test_abc" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"stripe_secret_key": "pk_test_abc"}, "STRIPE_SECRET_KEY"),
        ({"stripe_api_base": "http://stripe.example"}, "STRIPE_API_BASE"),
        ({"stripe_api_base": "ftp://127.0.0.1"}, "STRIPE_API_BASE"),
        ({"checkout_prices": ""}, "CHECKOUT_PRICES"),
        ({"checkout_prices": "prod_123"}, "CHECKOUT_PRICES"),
        ({"checkout_return_url": "https://shop.example/return"}, "CHECKOUT_RETURN_URL"),
        ({"checkout_return_url": "/relative?id={CHECKOUT_SESSION_ID}"}, "CHECKOUT_RETURN_URL"),
        ({"checkout_mode": "setup"}, "CHECKOUT_MODE"),
        ({"rate_limit": "lots"}, "RATE_LIMIT"),
        ({"cors_allow_origins": "*"}, "CORS_ALLOW_ORIGINS"),
        ({"stripe_webhook_secret": "not_whsec"}, "STRIPE_WEBHOOK_SECRET"),
    ],
)
def test_each_bad_value_is_named(overrides: dict[str, Any], variable: str) -> None:
    lines = problems(**overrides)
    assert len(lines) == 1
    assert lines[0].startswith(f"{variable}: ")


def test_loopback_http_is_allowed_for_the_emulator() -> None:
    settings = load_settings(**{**GOOD, "stripe_api_base": "http://127.0.0.1:12111"})
    assert settings.stripe_api_base == "http://127.0.0.1:12111"


def test_live_key_is_refused_over_plain_http() -> None:
    lines = problems(stripe_secret_key="sk_live_abc", stripe_api_base="http://127.0.0.1:12111")
    assert any("STRIPE_API_BASE" in line for line in lines)
    assert all("sk_live_abc" not in line for line in lines)


def test_serve_refuses_a_bad_configuration_with_one_line_per_problem(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "CHECKOUT_"))}
    env.update(
        {"STRIPE_SECRET_KEY": "sk_wrong_secretvalue", "CHECKOUT_RETURN_URL": "https://x.example/"}
    )
    result = subprocess.run(
        [sys.executable, "-m", "checkout_api", "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    named = sorted(line.split(": ")[2] for line in lines)
    assert named == ["CHECKOUT_PRICES", "CHECKOUT_RETURN_URL", "STRIPE_SECRET_KEY"]
    assert "sk_wrong_secretvalue" not in result.stderr
