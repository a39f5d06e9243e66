"""Fixtures for the emulator tests: a fresh emulator per test, the real stripe SDK talking to it
over real HTTP, and a small client for the /_emulator control API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest
import stripe

from checkout_api.emulator import EmulatorConfig, RunningEmulator, start_in_thread

WEBHOOK_SECRET = "whsec_test_emulator"
RETURN_URL = "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}"


def session_params(**overrides: Any) -> dict[str, Any]:
    """Parameters for a valid embedded payment session; keyword overrides replace or add."""
    params: dict[str, Any] = {
        "mode": "payment",
        "ui_mode": "embedded_page",
        "return_url": RETURN_URL,
        "line_items": [{"price": "price_demo_tshirt", "quantity": 2}],
        "metadata": {"order_id": "ord_123"},
        "client_reference_id": "cart_42",
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


def sdk_client(
    emu: RunningEmulator,
    *,
    key: str = "sk_test_emulator1234",
    retries: int = 0,
    timeout: float | None = None,
) -> tuple[stripe.StripeClient, stripe.AIOHTTPClient]:
    http = stripe.AIOHTTPClient() if timeout is None else stripe.AIOHTTPClient(timeout=timeout)
    client = stripe.StripeClient(
        key, base_addresses={"api": emu.base_url}, http_client=http, max_network_retries=retries
    )
    return client, http


class Control:
    """Calls to the /_emulator control API."""

    def __init__(self, base_url: str, http: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.http = http

    async def get(self, path: str) -> Any:
        async with self.http.get(self.base_url + "/_emulator" + path) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        async with self.http.post(self.base_url + "/_emulator" + path, json=body or {}) as resp:
            assert resp.status == status, await resp.text()
            return await resp.json()


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
def emu(config: EmulatorConfig) -> Iterator[RunningEmulator]:
    with start_in_thread(config) as running:
        yield running


@pytest.fixture
async def client(emu: RunningEmulator) -> AsyncIterator[stripe.StripeClient]:
    sdk, http = sdk_client(emu)
    yield sdk
    await http.close_async()


@pytest.fixture
async def make_client(
    emu: RunningEmulator,
) -> AsyncIterator[Callable[..., stripe.StripeClient]]:
    """More SDK clients (other key, retries, timeout); all closed after the test."""
    opened: list[stripe.AIOHTTPClient] = []

    def make(**options: Any) -> stripe.StripeClient:
        sdk, http = sdk_client(emu, **options)
        opened.append(http)
        return sdk

    yield make
    for http in opened:
        await http.close_async()


@pytest.fixture
def params() -> Callable[..., dict[str, Any]]:
    """Builds valid session parameters: `params(mode="subscription", return_url=None)`."""
    return session_params


@pytest.fixture
async def control(emu: RunningEmulator) -> AsyncIterator[Control]:
    async with aiohttp.ClientSession() as http:
        yield Control(emu.base_url, http)
