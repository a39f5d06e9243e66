"""Liveness, readiness, OpenAPI, and the problem format for unknown routes."""

from __future__ import annotations

import httpx

from checkout_api.errors import ALL_PROBLEMS
from tests.api.test_checkout_session import assert_problem


async def test_healthz_does_no_io(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_reports_each_check(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["config"] == checks["stripe_client"] == checks["database"] == "ok"
    assert checks["stripe_circuit"] == "closed"


async def test_openapi_describes_every_endpoint_and_its_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert {"/checkoutsession", "/session-status", "/healthz", "/readyz"} <= set(paths)
    create = paths["/checkoutsession"]["post"]
    assert {"200", "201", "413", "415", "422", "429", "502", "503", "504"} <= set(
        create["responses"]
    )
    assert create["requestBody"]["content"]["application/json"]["schema"]
    assert (await client.get("/docs")).status_code == 200


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nope"), 404, "not_found")


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/checkoutsession"), 405, "method_not_allowed")


async def test_no_server_banner(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert "server" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_problem_codes_are_unique_and_stable() -> None:
    codes = [problem.code for problem in ALL_PROBLEMS]
    assert len(codes) == len(set(codes))
