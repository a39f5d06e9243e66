"""Stripe traffic goes through the outbound proxy named by HTTPS_PROXY.

A tiny forwarding proxy runs in the test: it takes absolute-form requests (which aiohttp sends
to a proxy for plain-http targets; the emulator is plain http on loopback), forwards them and
counts them. Against real Stripe (https) aiohttp tunnels with CONNECT through the same setting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from checkout_api.config import Settings
from tests.conftest import EmulatorHandle
from tests.hardening.conftest import app_client

HOP_BY_HOP = frozenset(
    "connection keep-alive proxy-authenticate proxy-authorization proxy-connection te trailer "
    "transfer-encoding upgrade host content-length".split()
)


@dataclass
class ForwardingProxy:
    url: str = ""
    seen: list[tuple[str, str]] = field(default_factory=list)
    http: aiohttp.ClientSession | None = None

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        target = request.url  # absolute-form: the full URL the client wants
        self.seen.append((request.method, str(target)))
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
        )
        headers["Via"] = "1.1 test-proxy"
        assert self.http is not None
        async with self.http.request(
            request.method, target, headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            out = CIMultiDict(
                (k, v)
                for k, v in upstream.headers.items()
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-encoding"
            )
            return web.Response(body=body, status=upstream.status, headers=out)


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardingProxy]:
    forwarding = ForwardingProxy()
    forwarding.http = aiohttp.ClientSession(auto_decompress=False)
    runner = web.ServerRunner(web.Server(forwarding.handle), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    forwarding.url = f"http://127.0.0.1:{port}"
    try:
        yield forwarding
    finally:
        await runner.cleanup()
        await forwarding.http.close()


async def test_checkout_sessions_are_created_through_the_proxy(
    hardened_settings: Callable[..., Settings], emulator: EmulatorHandle, proxy: ForwardingProxy
) -> None:
    async with app_client(hardened_settings(https_proxy=proxy.url)) as client:
        response = await client.post("/checkoutsession", json={"session_id": "via-proxy"})

    assert response.status_code == 201, response.text
    assert proxy.seen == [("POST", f"{emulator.base_url}/v1/checkout/sessions")]
    [create] = emulator.creates()
    assert create["headers"]["via"] == "1.1 test-proxy"
    assert emulator.session(response.json()["id"])["client_reference_id"] == "via-proxy"


async def test_the_proxy_is_read_from_the_https_proxy_variable(
    make_settings: Callable[..., Settings],
    emulator: EmulatorHandle,
    proxy: ForwardingProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    settings = make_settings()
    assert settings.https_proxy == proxy.url

    async with app_client(settings) as client:
        response = await client.post("/checkoutsession", json={"session_id": "env-proxy"})

    assert response.status_code == 201, response.text
    assert [method for method, _ in proxy.seen] == ["POST"]


async def test_without_a_proxy_stripe_is_called_directly(
    hardened_settings: Callable[..., Settings], emulator: EmulatorHandle, proxy: ForwardingProxy
) -> None:
    async with app_client(hardened_settings(https_proxy=None)) as client:
        response = await client.post("/checkoutsession", json={"session_id": "direct"})

    assert response.status_code == 201
    assert proxy.seen == []
    assert "via" not in emulator.creates()[0]["headers"]


async def test_an_unreachable_proxy_is_a_504_within_the_budget(
    hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
) -> None:
    from tests.processes import free_port

    settings = hardened_settings(
        https_proxy=f"http://127.0.0.1:{free_port()}", checkout_deadline_seconds=1.0
    )
    async with app_client(settings) as client:
        response = await client.post("/checkoutsession", json={"session_id": "no-proxy"})

    assert response.status_code == 504
    assert response.json()["code"] == "stripe_unreachable"
    assert emulator.requests() == []
