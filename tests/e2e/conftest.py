"""End-to-end fixtures: free ports, `checkout-api demo` as a subprocess, headless Chromium.

The browser never leaves the machine: Stripe.js is answered from `stripe_standin.js`, requests to
the service on 127.0.0.1 go through, and every other request is aborted (and recorded, so a test
can assert the page tried nothing else).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest

from checkout_api.web import STRIPE_JS_URL
from tests.processes import (
    READY_TIMEOUT_SECONDS,
    clean_env,
    free_port,
    log_tail,
    stop,
    wait_until_ready,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Route

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
STANDIN_JS = Path(__file__).with_name("stripe_standin.js")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@dataclass(frozen=True)
class Demo:
    """One running `checkout-api demo`: the service and its Stripe emulator."""

    base_url: str
    emulator_url: str
    process: subprocess.Popen[bytes]
    log: Path
    secret_key: str = "sk_test_emulator"
    publishable_key: str = "pk_test_emulator"

    def emulator(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.emulator_url,
            headers={"Authorization": f"Bearer {self.secret_key}"},
            timeout=5.0,
            trust_env=False,
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    executable = Path(sys.executable).parent / "checkout-api"
    if not executable.exists():
        pytest.fail(f"{executable} is missing: install the package (pip install -e .)")
    port, emulator_port = free_port(), free_port()
    # Its own working directory: no developer .env is read, the SQLite file lands here.
    workdir = tmp_path_factory.mktemp("demo")
    log = workdir / "demo.log"
    command = [
        str(executable),
        "demo",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--emulator-port",
        str(emulator_port),
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=workdir, env=clean_env(), stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        wait_until_ready(
            [f"{emulator_url}/_emulator/requests", f"{base_url}/readyz"],
            process,
            log,
            READY_TIMEOUT_SECONDS,
        )
        yield Demo(base_url, emulator_url, process, log)
    finally:
        stop(process)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test that used the demo gets the demo's log tail in its report."""
    report = yield
    demo = getattr(item, "funcargs", {}).get("demo")
    if report.failed and isinstance(demo, Demo):
        report.sections.append(("checkout-api demo log (tail)", log_tail(demo.log)))
    return report


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, env=clean_env()
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Browsing:
    """A fresh page with offline routing, and what went wrong while it ran."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def browsing(browser: Browser) -> Iterator[Browsing]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    page = context.new_page()
    browsing = Browsing(page)

    def route(route: Route) -> None:
        url = route.request.url
        if url == STRIPE_JS_URL:
            route.fulfill(path=STANDIN_JS, content_type="text/javascript; charset=utf-8")
        elif urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            browsing.blocked.append(url)
            route.abort()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            browsing.console_errors.append(message.text)

    context.route("**/*", route)
    page.on("console", on_console)
    page.on("pageerror", lambda error: browsing.console_errors.append(str(error)))
    try:
        yield browsing
    finally:
        context.close()
