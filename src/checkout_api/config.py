"""Service configuration: read once from the environment (and an optional `.env`), validated.

Every variable is documented in the README's configuration table. A bad or missing value
stops the process with one line per problem naming the variable (see `describe_errors`).
Secrets are held as `SecretStr` so they never show in `repr()` or logs.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SECRET_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
DEFAULT_DATABASE_URL = "sqlite:///data/checkout.db"

CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class StoreSettings(BaseSettings):
    """What `migrate` and `purge` need: the database alone, no Stripe keys."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    database_url: str = DEFAULT_DATABASE_URL


class Settings(StoreSettings):
    # Stripe
    stripe_secret_key: SecretStr
    stripe_publishable_key: str | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    stripe_attempt_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    https_proxy: str | None = None
    # Our own pace towards Stripe, per process; 0 = unpaced (429s are retried within the
    # deadline). Off by default: the right figure depends on the account (a sandbox allows
    # 25/s, live mode more) and on how many processes share it.
    stripe_max_requests_per_second: float = Field(default=0.0, ge=0)
    stripe_max_burst: int = Field(default=5, ge=1, le=100)
    stripe_breaker_failure_threshold: int = Field(default=5, ge=1)
    stripe_breaker_reset_seconds: float = Field(default=5.0, gt=0, le=300)

    # Checkout
    checkout_prices: CommaList
    checkout_return_url: str
    checkout_mode: Literal["payment", "subscription"] = "payment"
    checkout_deadline_seconds: float = Field(default=3.0, gt=0.1, le=30)
    checkout_reuse_min_remaining_seconds: int = Field(default=600, ge=0)
    checkout_attempt_lease_seconds: float = Field(default=10.0, gt=0, le=300)

    # Store (database_url comes from StoreSettings)
    data_encryption_key: SecretStr | None = None
    migrate_on_start: bool = True

    # Fulfillment extension point (issue 4)
    fulfillment_hook: str | None = None
    fulfillment_webhook_url: str | None = None
    fulfillment_webhook_secret: SecretStr | None = None
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Edge
    rate_limit: str = "30/minute"
    session_rate_limit: str = "10/minute"
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = Field(default="checkout-api", min_length=1, max_length=64)
    trusted_proxies: CommaList = Field(default_factory=list)
    cors_allow_origins: CommaList = Field(default_factory=list)
    max_body_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)

    # Operations
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=120)

    @field_validator("checkout_prices", "trusted_proxies", "cors_allow_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("stripe_webhook_secret", mode="before")
    @classmethod
    def _webhook_secrets(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("stripe_secret_key")
    @classmethod
    def _secret_key_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(SECRET_KEY_PREFIXES):
            raise ValueError("must start with sk_test_, sk_live_, rk_test_ or rk_live_")
        return value

    @field_validator("stripe_publishable_key")
    @classmethod
    def _publishable_key_shape(cls, value: str | None) -> str | None:
        if value and not value.startswith(("pk_test_", "pk_live_")):
            raise ValueError("must start with pk_test_ or pk_live_")
        return value or None

    @field_validator("stripe_webhook_secret")
    @classmethod
    def _webhook_secret_shape(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            if not secret.get_secret_value().startswith("whsec_"):
                raise ValueError("each secret must start with whsec_")
        return value

    @field_validator("stripe_api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError("plain http is allowed only to loopback hosts")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be a bare origin such as https://api.stripe.com")
        return value.rstrip("/")

    @field_validator("checkout_prices")
    @classmethod
    def _prices(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one Stripe Price id")
        for price in value:
            if not price.startswith("price_") or not price.replace("_", "").isalnum():
                raise ValueError(f"{price!r} is not a Stripe Price id (price_...)")
        if len(set(value)) != len(value):
            raise ValueError("lists a price twice")
        return value

    @field_validator("checkout_return_url")
    @classmethod
    def _return_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        if "{CHECKOUT_SESSION_ID}" not in value:
            raise ValueError("must contain the {CHECKOUT_SESSION_ID} template")
        return value

    @field_validator("rate_limit", "session_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit such as 30/minute: {exc}") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin == "*":
                raise ValueError("a wildcard is not allowed; list the shop's origins")
            parts = urlsplit(origin)
            if parts.scheme not in ("https", "http") or not parts.hostname or parts.path:
                raise ValueError(f"{origin!r} is not an origin such as https://shop.example")
        return value

    @field_validator("fulfillment_hook")
    @classmethod
    def _hook_shape(cls, value: str | None) -> str | None:
        if value and (":" not in value or value.startswith(":") or value.endswith(":")):
            raise ValueError("must look like package.module:function")
        return value or None

    @field_validator("fulfillment_webhook_url")
    @classmethod
    def _notify_url(cls, value: str | None) -> str | None:
        if value:
            parts = urlsplit(value)
            if parts.scheme != "https" and not (
                parts.scheme == "http" and is_loopback(parts.hostname)
            ):
                raise ValueError("must be an https URL (plain http only to loopback hosts)")
        return value or None

    @model_validator(mode="after")
    def _notify_needs_secret(self) -> Settings:
        if self.fulfillment_webhook_url and not self.fulfillment_webhook_secret:
            raise ValueError("FULFILLMENT_WEBHOOK_SECRET: required with FULFILLMENT_WEBHOOK_URL")
        return self

    @model_validator(mode="after")
    def _live_key_needs_https(self) -> Settings:
        if self.livemode and not self.stripe_api_base.startswith("https://"):
            raise ValueError(
                "STRIPE_API_BASE: a live key is only sent over https, never to plain http"
            )
        return self

    @property
    def livemode(self) -> bool:
        return "_live_" in self.stripe_secret_key.get_secret_value()[:8]

    @property
    def default_price(self) -> str:
        return self.checkout_prices[0]

    @property
    def webhook_secrets(self) -> list[str]:
        return [secret.get_secret_value() for secret in self.stripe_webhook_secret]


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; keyword overrides win (used by tests and `demo`)."""
    return Settings(**overrides)  # type: ignore[arg-type]


def describe_errors(error: ValidationError) -> list[str]:
    """One line per problem, naming the environment variable and never echoing its value."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in item["loc"] if isinstance(part, str))
        name = field.upper() if field else "configuration"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "is required but not set"
        lines.append(f"{name}: {message}")
    return lines


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a sqlite URL, or None for other databases."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split(":///", 1)[1] if ":///" in database_url else ""
    return Path(path) if path and path != ":memory:" else None
