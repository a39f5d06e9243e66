"""Shared fixtures: a real Stripe emulator over HTTP, per-test databases, the app in-process.

The service talks to the emulator through the real `stripe` SDK over real HTTP; nothing in
the SDK or its transport is patched.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from checkout_api.app import create_app
from checkout_api.config import Settings, load_settings
from checkout_api.emulator import EmulatorConfig, start_in_thread
from checkout_api.logging import configure_logging
from tests import leaks

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI") == "true"
TEST_PRICES = "price_demo_tshirt,price_demo_mug"
TEST_SECRET_KEY = "sk_test_checkoutapi_tests"
WEBHOOK_SECRET = "whsec_test_primary_secret"


def service_unavailable(what: str) -> None:
    """Under CI a missing service is a failure, never a silent skip."""
    if IN_CI:
        pytest.fail(f"{what} is unreachable under CI=true")
    pytest.skip(f"{what} is unreachable")


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class EmulatorHandle:
    """The running emulator plus its control API, as tests use it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def reset(self) -> None:
        self.http.post("/_emulator/reset").raise_for_status()

    def faults(self, **faults: Any) -> None:
        self.http.post("/_emulator/faults", json=faults).raise_for_status()

    def requests(self, path: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.http.get("/_emulator/requests").json()
        return [
            item
            for item in items
            if (path is None or item["path"] == path)
            and (method is None or item["method"] == method)
        ]

    def creates(self) -> list[dict[str, Any]]:
        """Checkout Session creates that Stripe answered with success."""
        return [r for r in self.requests("/v1/checkout/sessions", "POST") if r.get("status") == 200]

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = self.http.get("/_emulator/stats").json()
        return result

    def session(self, stripe_id: str) -> dict[str, Any]:
        response = self.http.get(
            f"/v1/checkout/sessions/{stripe_id}",
            headers={"Authorization": f"Bearer {TEST_SECRET_KEY}"},
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def control(self, path: str, **body: Any) -> dict[str, Any]:
        response = self.http.post(f"/_emulator{path}", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Any]:
    running = start_in_thread(EmulatorConfig())
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def emulator(emulator_server: Any) -> Iterator[EmulatorHandle]:
    handle = EmulatorHandle(emulator_server.base_url)
    handle.reset()
    try:
        yield handle
    finally:
        handle.reset()
        handle.http.close()


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path}/checkout.db"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not reachable("127.0.0.1", 5432):
        service_unavailable("PostgreSQL at 127.0.0.1:5432")
    import asyncpg

    name = f"checkout_test_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN_URL

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over both stores."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def make_settings(emulator: EmulatorHandle, sqlite_url: str) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "stripe_secret_key": TEST_SECRET_KEY,
            "stripe_api_base": emulator.base_url,
            "checkout_prices": TEST_PRICES,
            "checkout_return_url": "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
            "database_url": sqlite_url,
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "rate_limit": "10000/second",
            "session_rate_limit": "10000/second",
            "_env_file": None,
        }
        values.update(overrides)
        return load_settings(**values)

    return build


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan, reached in-process over ASGI."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        hooks = {"response": [_record]}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", event_hooks=hooks
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def _record(response: httpx.Response) -> None:
    await response.aread()
    leaks.record_response(response.request.url.path, response.status_code, response.text)


@pytest.fixture
async def client(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(make_settings()) as http:
        yield http


# --- Secrets never leak: every log line and response of the whole run is checked ----------


def pytest_configure(config: pytest.Config) -> None:
    # Loggers stay uncached so that structlog.testing.capture_logs works in tests.
    configure_logging("INFO", "json", stream=leaks.LOGS, cache_loggers=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    problems = leaks.problems()
    if problems:
        session.exitstatus = 1
        print("\nSECRET LEAK CHECK FAILED:\n" + "\n".join(problems[:20]), file=sys.stderr)
    elif session.testscollected:
        print(f"\nsecret leak check: {leaks.summary()} clean")
