"""Schemathesis against the service's own /openapi.json: no 5xx, no undocumented status.

The real `checkout-api serve` runs for this module (Stripe calls go to the emulator), and
every operation gets a bounded run of generated requests, valid and invalid alike.

The schema is built from the app factory at import (schemathesis 4.32's lazy
`from_fixture` loader breaks on pytest 9: it reads `request.node._nodeid`); a test checks that
the running service serves this same document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from checkout_api.app import create_app
from checkout_api.config import load_settings
from tests.conftest import TEST_PRICES, TEST_SECRET_KEY, WEBHOOK_SECRET
from tests.processes import ServiceProcess

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 50


@pytest.fixture(scope="module")
def fuzzed_service(
    emulator_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    env = {
        "STRIPE_SECRET_KEY": TEST_SECRET_KEY,
        "STRIPE_API_BASE": emulator_server.base_url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CHECKOUT_PRICES": TEST_PRICES,
        "CHECKOUT_RETURN_URL": "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
        "DATABASE_URL": f"sqlite:///{workdir}/checkout.db",
        "RATE_LIMIT": "100000/second",
        "SESSION_RATE_LIMIT": "100000/second",
        "LOG_LEVEL": "WARNING",
    }
    service = ServiceProcess.start(env, workdir)
    try:
        yield service
    finally:
        service.stop()


def openapi_document() -> dict[str, Any]:
    settings = load_settings(
        stripe_secret_key=TEST_SECRET_KEY,
        checkout_prices=TEST_PRICES,
        checkout_return_url="https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
        _env_file=None,
    )
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def dangling_refs(document: dict[str, Any]) -> set[str]:
    found = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document)))
    return found - set(document.get("components", {}).get("schemas", {}))


DOCUMENT = openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_service_serves_the_fuzzed_document(fuzzed_service: ServiceProcess) -> None:
    served = httpx.get(f"{fuzzed_service.base_url}/openapi.json", trust_env=False, timeout=10)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


def test_every_schema_reference_in_the_document_resolves() -> None:
    assert dangling_refs(DOCUMENT) == set()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_only_documented_statuses(
    case: schemathesis.Case, fuzzed_service: ServiceProcess
) -> None:
    case.call_and_validate(
        base_url=fuzzed_service.base_url,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        timeout=10,
    )
