"""Abuse limits on POST /checkoutsession: per client IP, per session id (new sessions only),
X-Forwarded-For only from trusted proxies, one budget shared by instances through Redis, and
failing open when the storage is down.

The in-process client's TCP peer is 203.0.113.7 (see `running_app`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from checkout_api.config import Settings
from tests.api.test_checkout_session import assert_problem
from tests.conftest import EmulatorHandle
from tests.hardening.conftest import app_client, read_metric
from tests.processes import free_port

PEER = "203.0.113.7"


async def create(
    client: httpx.AsyncClient,
    session_id: str,
    *,
    items: list[dict[str, Any]] | None = None,
    forwarded_for: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"session_id": session_id}
    if items is not None:
        body["items"] = items
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await client.post("/checkoutsession", json=body, headers=headers)


def assert_rate_limited(response: httpx.Response, window_seconds: int = 60) -> None:
    assert_problem(response, 429, "rate_limited")
    assert 1 <= int(response.headers["retry-after"]) <= window_seconds


class TestPerClientIp:
    async def test_the_request_over_the_limit_is_answered_429_with_retry_after(
        self, hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
    ) -> None:
        async with app_client(hardened_settings(rate_limit="3/minute")) as client:
            responses = [await create(client, f"ip-{n}") for n in range(4)]
            refused = await read_metric(client, "checkout_rate_limited_total", limit="ip")

        assert [r.status_code for r in responses[:3]] == [201, 201, 201]
        assert_rate_limited(responses[3])
        assert len(emulator.creates()) == 3
        assert refused >= 1

    async def test_the_limit_is_checked_before_the_body_is_read(
        self, hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
    ) -> None:
        async with app_client(hardened_settings(rate_limit="1/minute")) as client:
            await create(client, "first")
            response = await client.post(
                "/checkoutsession", content=b"not json", headers={"Content-Type": "text/plain"}
            )

        assert_rate_limited(response)

    async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
        self, hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
    ) -> None:
        settings = hardened_settings(rate_limit="2/minute", trusted_proxies="10.0.0.0/8")
        async with app_client(settings) as client:
            responses = [
                await create(client, f"spoof-{n}", forwarded_for=f"198.51.100.{n}")
                for n in range(3)
            ]

        assert [r.status_code for r in responses[:2]] == [201, 201]
        assert_rate_limited(responses[2])  # every spoofed address counted against the peer

    async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
        self, hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
    ) -> None:
        settings = hardened_settings(rate_limit="2/minute", trusted_proxies="203.0.113.0/24")
        async with app_client(settings) as client:
            first = [await create(client, f"a-{n}", forwarded_for="198.51.100.1") for n in range(3)]
            other = await create(client, "b-0", forwarded_for="198.51.100.2")

        assert [r.status_code for r in first[:2]] == [201, 201]
        assert_rate_limited(first[2])
        assert other.status_code == 201  # another client behind the same proxy has its own

    async def test_a_client_cannot_escape_by_prepending_forged_hops(
        self, hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
    ) -> None:
        """The right-most address not in TRUSTED_PROXIES is the one the proxy saw."""
        settings = hardened_settings(
            rate_limit="2/minute", trusted_proxies="203.0.113.0/24,10.0.0.0/8"
        )
        async with app_client(settings) as client:
            responses = [
                await create(
                    client, f"forged-{n}", forwarded_for=f"192.0.2.{n}, 198.51.100.9, 10.1.2.3"
                )
                for n in range(3)
            ]
            limits = client.app.state.services.limits  # type: ignore[attr-defined]

        assert [r.status_code for r in responses[:2]] == [201, 201]
        assert_rate_limited(responses[2])
        assert limits.client_ip(request_from(PEER, "192.0.2.1, 198.51.100.9")) == "198.51.100.9"
        assert limits.client_ip(request_from(PEER, "10.0.0.1, 10.0.0.2")) == "10.0.0.1"
        assert limits.client_ip(request_from("192.0.2.50", "198.51.100.9")) == "192.0.2.50"
        assert limits.client_ip(request_from(PEER, "not-an-ip, 198.51.100.9")) == "198.51.100.9"


def request_from(peer: str, forwarded_for: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/checkoutsession",
            "headers": [(b"x-forwarded-for", forwarded_for.encode())],
            "client": (peer, 50000),
        }
    )


class TestPerSessionId:
    """SESSION_RATE_LIMIT counts only requests that would mint a new Stripe session."""

    async def test_reuse_answers_are_not_counted(
        self, hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
    ) -> None:
        async with app_client(hardened_settings(session_rate_limit="2/minute")) as client:
            created = await create(client, "cart-owner")
            reused = [await create(client, "cart-owner") for _ in range(5)]
            second_cart = await create(
                client, "cart-owner", items=[{"price": "price_demo_mug", "quantity": 1}]
            )
            third_cart = await create(
                client, "cart-owner", items=[{"price": "price_demo_mug", "quantity": 2}]
            )
            someone_else = await create(client, "other-owner")
            refused = await read_metric(client, "checkout_rate_limited_total", limit="session")

        assert created.status_code == 201
        assert [r.status_code for r in reused] == [200] * 5
        assert second_cart.status_code == 201
        assert_rate_limited(third_cart)
        assert someone_else.status_code == 201
        assert len(emulator.creates()) == 3
        assert refused >= 1


@pytest.mark.redis
class TestSharedThroughRedis:
    async def test_two_instances_share_one_budget(
        self,
        hardened_settings: Callable[..., Settings],
        emulator: EmulatorHandle,
        redis_url: str,
        redis_prefix: str,
    ) -> None:
        settings = hardened_settings(
            rate_limit="4/minute",
            rate_limit_storage_url=redis_url,
            rate_limit_key_prefix=redis_prefix,
        )
        async with app_client(settings) as first, app_client(settings) as second:
            instances = [first, second]
            responses = [await create(instances[n % 2], f"shared-{n}") for n in range(6)]

        assert [r.status_code for r in responses[:4]] == [201] * 4
        assert_rate_limited(responses[4])
        assert_rate_limited(responses[5])

    async def test_the_session_id_limit_is_shared_too(
        self,
        hardened_settings: Callable[..., Settings],
        emulator: EmulatorHandle,
        redis_url: str,
        redis_prefix: str,
    ) -> None:
        settings = hardened_settings(
            session_rate_limit="1/minute",
            rate_limit_storage_url=redis_url,
            rate_limit_key_prefix=redis_prefix,
        )
        async with app_client(settings) as first, app_client(settings) as second:
            created = await create(first, "roaming")
            other_cart = await create(
                second, "roaming", items=[{"price": "price_demo_mug", "quantity": 1}]
            )

        assert created.status_code == 201
        assert_rate_limited(other_cart)

    async def test_connections_are_closed_at_shutdown(
        self,
        hardened_settings: Callable[..., Settings],
        emulator: EmulatorHandle,
        redis_url: str,
        redis_prefix: str,
    ) -> None:
        import redis

        observer = redis.Redis.from_url(redis_url)

        def ours() -> int:
            return sum(1 for c in observer.client_list() if c.get("name") == redis_prefix)

        settings = hardened_settings(
            rate_limit_storage_url=redis_url, rate_limit_key_prefix=redis_prefix
        )
        try:
            async with app_client(settings) as client:
                assert (await create(client, "conn")).status_code == 201
                assert ours() >= 1
            assert ours() == 0
        finally:
            observer.close()


class TestInMemoryStorage:
    async def test_in_memory_storage_is_per_instance(
        self, hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
    ) -> None:
        """The control for TestSharedThroughRedis: without Redis each instance counts alone."""
        settings = hardened_settings(rate_limit="2/minute", rate_limit_storage_url="memory://")
        async with app_client(settings) as first, app_client(settings) as second:
            responses = [await create([first, second][n % 2], f"mem-{n}") for n in range(4)]

        assert [r.status_code for r in responses] == [201] * 4


class TestStorageDown:
    async def test_limits_fail_open_and_readiness_says_so(
        self, hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
    ) -> None:
        dead = f"redis://127.0.0.1:{free_port()}/0"
        settings = hardened_settings(rate_limit="1/minute", rate_limit_storage_url=dead)
        async with app_client(settings) as client:
            responses = [await create(client, f"open-{n}") for n in range(3)]
            ready = await client.get("/readyz")
            skipped = await read_metric(client, "checkout_rate_limit_storage_errors_total")

        assert [r.status_code for r in responses] == [201] * 3
        assert ready.status_code == 200
        assert ready.json()["checks"]["rate_limit_storage"].startswith("unreachable")
        assert skipped >= 3
