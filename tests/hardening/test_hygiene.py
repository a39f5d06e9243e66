"""Request hygiene on the public edge: media type, body size, CORS, security headers, banners,
and card numbers refused before they are parsed or logged.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from checkout_api.config import Settings
from tests.api.test_checkout_session import assert_problem
from tests.conftest import EmulatorHandle
from tests.hardening.conftest import app_client, service_env
from tests.processes import ServiceProcess

SHOP = "https://shop.example"
LIMIT = 1024
CARDS = [
    "4242 4242 4242 4242",
    "4242424242424242",
    "5555-5555-5555-4444",
    "378282246310005",
    "6011 1111 1111 1117",
]


@pytest.fixture
async def client(hardened_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    settings = hardened_settings(max_body_bytes=LIMIT, cors_allow_origins=SHOP)
    async with app_client(settings) as http:
        yield http


class TestMediaType:
    @pytest.mark.parametrize(
        "content_type",
        [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "application/json-patch+json",
            "",
        ],
    )
    async def test_anything_but_json_is_415(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle, content_type: str
    ) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        response = await client.post(
            "/checkoutsession", content=b'{"session_id": "v"}', headers=headers
        )

        assert_problem(response, 415, "unsupported_media_type")
        assert emulator.requests() == []

    async def test_json_with_a_charset_is_accepted(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        response = await client.post(
            "/checkoutsession",
            content=b'{"session_id": "v"}',
            headers={"Content-Type": "Application/JSON; charset=utf-8"},
        )
        assert response.status_code == 201


class TestBodySize:
    def body(self, size: int) -> bytes:
        padding = size - len(b'{"session_id": ""}')
        return json.dumps({"session_id": "v" * padding}, separators=(", ", ": ")).encode()

    async def test_a_declared_oversized_body_is_413(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        response = await client.post(
            "/checkoutsession",
            content=self.body(LIMIT + 1),
            headers={"Content-Type": "application/json"},
        )

        assert_problem(response, 413, "payload_too_large")
        assert emulator.requests() == []

    async def test_a_chunked_oversized_body_without_length_is_413(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(LIMIT // 100 + 2):
                yield b" " * 100

        request = client.build_request(
            "POST",
            "/checkoutsession",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert "content-length" not in request.headers
        response = await client.send(request)

        assert_problem(response, 413, "payload_too_large")

    async def test_a_body_at_the_limit_is_read(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        body = self.body(LIMIT)
        assert len(body) == LIMIT
        response = await client.post(
            "/checkoutsession", content=body, headers={"Content-Type": "application/json"}
        )
        # Read and validated (the id is over 200 characters), not refused for its size.
        assert_problem(response, 422, "validation_failed")


class TestCors:
    async def test_an_allowed_origin_gets_its_origin_back_and_no_credentials(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        response = await client.post(
            "/checkoutsession", json={"session_id": "cors"}, headers={"Origin": SHOP}
        )

        assert response.status_code == 201
        assert response.headers["access-control-allow-origin"] == SHOP
        assert "access-control-allow-credentials" not in response.headers
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()

    async def test_another_origin_gets_no_cors_headers(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle
    ) -> None:
        response = await client.post(
            "/checkoutsession",
            json={"session_id": "cors"},
            headers={"Origin": "https://evil.example"},
        )

        assert "access-control-allow-origin" not in response.headers

    async def test_preflight_from_the_shop(self, client: httpx.AsyncClient) -> None:
        response = await client.options(
            "/checkoutsession",
            headers={
                "Origin": SHOP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )

        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == SHOP
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "content-type" in response.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"

    async def test_preflight_from_elsewhere_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.options(
            "/checkoutsession",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )

        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers

    async def test_no_cors_headers_when_no_origin_is_configured(
        self, hardened_settings: Callable[..., Settings], emulator: EmulatorHandle
    ) -> None:
        async with app_client(hardened_settings()) as client:
            response = await client.post(
                "/checkoutsession", json={"session_id": "cors"}, headers={"Origin": SHOP}
            )

        assert response.status_code == 201
        assert "access-control-allow-origin" not in response.headers


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cache-control": "no-store",
}


class TestSecurityHeaders:
    @pytest.mark.parametrize(
        ("method", "path", "status"),
        [
            ("GET", "/healthz", 200),
            ("GET", "/no-such-page", 404),
            ("DELETE", "/checkoutsession", 405),
            ("GET", "/session-status?session_id=nope", 422),
        ],
    )
    async def test_on_every_answer(
        self, client: httpx.AsyncClient, method: str, path: str, status: int
    ) -> None:
        response = await client.request(method, path)

        assert response.status_code == status
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "x-request-id" in response.headers
        assert "server" not in response.headers
        assert "x-powered-by" not in response.headers
        if status >= 400:
            assert response.headers["content-type"] == "application/problem+json"


class TestCardData:
    @pytest.mark.parametrize("card", CARDS)
    @pytest.mark.parametrize(
        "shape",
        ["session_id", "item_price", "unknown_field"],
    )
    async def test_a_card_number_anywhere_is_refused(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle, card: str, shape: str
    ) -> None:
        body = {
            "session_id": {"session_id": card},
            "item_price": {"session_id": "v", "items": [{"price": card}]},
            "unknown_field": {"session_id": "v", "note": f"my card is {card} exp 12/30"},
        }[shape]

        response = await client.post("/checkoutsession", json=body)

        assert_problem(response, 422, "card_data_rejected")
        assert card not in response.text
        assert card.replace(" ", "").replace("-", "") not in response.text
        assert emulator.requests() == []

    @pytest.mark.parametrize("request_id", ["4242424242424242", "req-4242424242424242x"])
    async def test_a_request_id_carrying_a_card_number_is_replaced(
        self, client: httpx.AsyncClient, request_id: str
    ) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": request_id})

        assert response.headers["x-request-id"] != request_id
        assert "4242" not in response.headers["x-request-id"]

    async def test_a_plain_request_id_is_kept(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "req-1767225600-abc"})
        assert response.headers["x-request-id"] == "req-1767225600-abc"

    @pytest.mark.parametrize(
        "session_id",
        ["visitor-1767225600123", "4242424242424241", "order-2024-01-01-000123456789"],
    )
    async def test_digit_runs_that_are_not_cards_pass(
        self, client: httpx.AsyncClient, emulator: EmulatorHandle, session_id: str
    ) -> None:
        response = await client.post("/checkoutsession", json={"session_id": session_id})
        assert response.status_code == 201, response.text


@pytest.fixture
def served(emulator: EmulatorHandle, tmp_path: Path) -> Iterator[ServiceProcess]:
    env = service_env(
        emulator,
        f"sqlite:///{tmp_path}/checkout.db",
        LOG_LEVEL="DEBUG",
        LOG_FORMAT="json",
        CORS_ALLOW_ORIGINS=SHOP,
    )
    service = ServiceProcess.start(env, tmp_path)
    try:
        yield service
    finally:
        service.stop()


@pytest.mark.slow
def test_the_real_server_sends_no_banner_and_logs_no_card_number(
    served: ServiceProcess, emulator: EmulatorHandle
) -> None:
    with httpx.Client(base_url=served.base_url, timeout=10, trust_env=False) as http:
        ok = http.get("/healthz")
        refused = [
            http.post(
                "/checkoutsession",
                json={"session_id": "v", "note": card},
                headers={"X-Request-ID": "id" + card.replace(" ", "") + "x"},
            )
            for card in CARDS
        ]
        created = http.post("/checkoutsession", json={"session_id": "logged-visitor"})
    served.stop()
    log = served.log.read_text()

    assert "server" not in ok.headers
    assert "uvicorn" not in ok.text.lower()
    assert all(r.status_code == 422 for r in refused)
    assert created.status_code == 201
    # The log is the real one: it holds the requests, so the absence below means something.
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("event") == "http.request"]
    assert [r["code"] for r in access].count("card_data_rejected") == len(CARDS)
    assert any(r.get("session_id") == "logged-visitor" for r in access)
    # LOG_LEVEL=DEBUG must not turn on the drivers' statement-and-parameter logging.
    assert not [r for r in records if r["logger"].startswith(("aiosqlite", "sqlalchemy"))]
    for card in CARDS:
        assert card not in log
        assert card.replace(" ", "").replace("-", "") not in log
    assert created.json()["client_secret"] not in log
