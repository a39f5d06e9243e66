"""The checkout and return pages in headless Chromium against `checkout-api demo`.

Stripe.js is the local stand-in (`stripe_standin.js`); everything else is real: the service
creates the Checkout Session in the Stripe emulator, and the emulator completes it.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

if TYPE_CHECKING:
    from .conftest import Browsing, Demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VISITOR_ID = re.compile(r"[A-Za-z0-9\-_.:]{1,200}")
STANDIN_TEXT = "Stripe form (stand-in)"


def open_checkout(page: Page, demo: Demo) -> tuple[str, str, dict[str, object]]:
    """Load `/`, wait for the mounted form; return (client secret, cs id, POST body)."""
    with page.expect_request(
        lambda r: r.method == "POST" and r.url == f"{demo.base_url}/checkoutsession"
    ) as posted:
        page.goto(f"{demo.base_url}/")
    expect(page.get_by_text(STANDIN_TEXT)).to_be_visible()
    standin = page.evaluate("window.__standin")
    assert standin["publishableKey"] == demo.publishable_key
    secret = standin["clientSecret"]
    cs_id, _, _ = secret.partition("_secret_")
    assert cs_id.startswith("cs_")
    request = posted.value
    assert request.headers["content-type"] == "application/json"
    return secret, cs_id, request.post_data_json


def wait_for_status(demo: Demo, cs_id: str, status: str, timeout: float = 10.0) -> None:
    """The service may learn of a completion by webhook: poll it, bounded, before the page."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=demo.base_url, timeout=2.0, trust_env=False) as client:
        while True:
            answer = client.get("/session-status", params={"session_id": cs_id})
            if answer.status_code == 200 and answer.json()["status"] == status:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"/session-status never said {status}: {answer.text}")
            time.sleep(0.1)


class TestCheckoutPage:
    def test_mounts_a_session_the_service_created(self, demo: Demo, browsing: Browsing) -> None:
        secret, cs_id, body = open_checkout(browsing.page, demo)

        visitor = browsing.page.evaluate("localStorage.getItem('checkout.visitorId')")
        assert VISITOR_ID.fullmatch(visitor)
        assert body == {"session_id": visitor}

        with demo.emulator() as emulator:
            calls = emulator.get("/_emulator/requests").json()
            session = emulator.get(f"/v1/checkout/sessions/{cs_id}").json()
        assert any(c["method"] == "POST" and c["path"] == "/v1/checkout/sessions" for c in calls)
        assert session["id"] == cs_id
        assert session["client_secret"] == secret
        assert session["client_reference_id"] == visitor

        expect(browsing.page.locator("#checkout")).to_have_attribute("aria-busy", "false")
        expect(browsing.page.locator("#checkout-error")).to_be_hidden()
        browsing.screenshot("checkout.png")
        assert browsing.console_errors == []
        assert browsing.blocked == []

    def test_a_returning_visitor_keeps_their_id_and_session(
        self, demo: Demo, browsing: Browsing
    ) -> None:
        first_secret, _, first_body = open_checkout(browsing.page, demo)
        second_secret, _, second_body = open_checkout(browsing.page, demo)
        assert first_body == second_body
        assert second_secret == first_secret

    def test_an_api_error_is_announced(self, demo: Demo, browsing: Browsing) -> None:
        problem = {
            "type": "about:blank",
            "title": "Payments are unavailable",
            "status": 503,
            "detail": "Stripe could not be reached. Please try again in a minute.",
            "code": "stripe_unreachable",
        }

        def fail(route: Route) -> None:
            route.fulfill(
                status=503,
                content_type="application/problem+json",
                body=json.dumps(problem),
            )

        page = browsing.page
        page.route(f"{demo.base_url}/checkoutsession", fail)
        page.goto(f"{demo.base_url}/")

        alert = page.get_by_role("alert")
        expect(alert).to_be_visible()
        expect(alert.get_by_role("heading", name=problem["title"])).to_be_focused()
        expect(alert).to_contain_text(problem["detail"])
        expect(alert).to_contain_text("stripe_unreachable")
        expect(alert.get_by_role("button", name="Try again")).to_be_visible()
        expect(page.get_by_text(STANDIN_TEXT)).to_have_count(0)
        browsing.screenshot("checkout-error.png")
        # The 503 itself is logged by Chromium; nothing else may be.
        assert [e for e in browsing.console_errors if "503" not in e] == []

    def test_fits_a_phone_screen(self, demo: Demo, browsing: Browsing) -> None:
        page = browsing.page
        page.set_viewport_size({"width": 360, "height": 740})
        open_checkout(page, demo)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        browsing.screenshot("checkout-mobile.png")


class TestReturnPage:
    def test_completed_session_shows_success_with_the_email(
        self, demo: Demo, browsing: Browsing
    ) -> None:
        _, cs_id, _ = open_checkout(browsing.page, demo)
        with demo.emulator() as emulator:
            completed = emulator.post(
                f"/_emulator/checkout/sessions/{cs_id}/complete",
                json={"customer_email": "jenny@example.com", "payment_status": "paid"},
            )
        assert completed.status_code == 200, completed.text
        wait_for_status(demo, cs_id, "complete")

        page = browsing.page
        page.goto(f"{demo.base_url}/return?session_id={cs_id}")
        heading = page.get_by_role("heading", name="Thank you for your order")
        expect(heading).to_be_visible()
        expect(heading).to_be_focused()
        expect(page.locator("#state-complete")).to_contain_text(
            "A confirmation will be sent to jenny@example.com"
        )
        expect(page.get_by_role("status")).to_have_text("Payment received.")
        browsing.screenshot("return.png")
        assert browsing.console_errors == []
        assert browsing.blocked == []

    def test_open_session_links_back_to_checkout(self, demo: Demo, browsing: Browsing) -> None:
        _, cs_id, _ = open_checkout(browsing.page, demo)

        page = browsing.page
        page.goto(f"{demo.base_url}/return?session_id={cs_id}")
        state = page.locator("#state-open")
        expect(
            state.get_by_role("heading", name="Your checkout isn't finished yet")
        ).to_be_visible()
        link = state.get_by_role("link", name="Return to checkout")
        expect(link).to_have_attribute("href", "/")
        expect(page.locator("#state-complete")).to_be_hidden()
        browsing.screenshot("return-open.png")

        link.click()
        expect(page.get_by_text(STANDIN_TEXT)).to_be_visible()
        assert browsing.console_errors == []

    def test_expired_session_offers_a_new_start(self, demo: Demo, browsing: Browsing) -> None:
        _, cs_id, _ = open_checkout(browsing.page, demo)
        with demo.emulator() as emulator:
            expired = emulator.post(f"/_emulator/checkout/sessions/{cs_id}/expire", json={})
        assert expired.status_code == 200, expired.text
        wait_for_status(demo, cs_id, "expired")

        page = browsing.page
        page.goto(f"{demo.base_url}/return?session_id={cs_id}")
        state = page.locator("#state-expired")
        expect(state.get_by_role("heading", name="This checkout has expired")).to_be_focused()
        expect(state.get_by_role("link", name="Start again")).to_have_attribute("href", "/")
        assert page.locator("[data-state]:visible").count() == 1
        assert browsing.console_errors == []

    def test_unpaid_completion_says_processing(self, demo: Demo, browsing: Browsing) -> None:
        _, cs_id, _ = open_checkout(browsing.page, demo)
        with demo.emulator() as emulator:
            completed = emulator.post(
                f"/_emulator/checkout/sessions/{cs_id}/complete",
                json={"customer_email": "jenny@example.com", "payment_status": "unpaid"},
            )
        assert completed.status_code == 200, completed.text
        wait_for_status(demo, cs_id, "complete")

        page = browsing.page
        page.goto(f"{demo.base_url}/return?session_id={cs_id}")
        state = page.locator("#state-processing")
        expect(state.get_by_role("heading")).to_have_text("Your order is being processed")
        expect(state).to_contain_text("will be sent to jenny@example.com once it clears")
        assert page.locator("[data-state]:visible").count() == 1

    def test_complete_without_an_email_still_reads_well(
        self, demo: Demo, browsing: Browsing
    ) -> None:
        # Stripe may omit the email; the emulator always sets one, so answer from the test.
        body = json.dumps(
            {
                "id": "cs_test_1",
                "status": "complete",
                "payment_status": "paid",
                "customer_email": None,
            }
        )
        page = browsing.page
        page.route(
            f"{demo.base_url}/session-status?session_id=cs_test_1",
            lambda route: route.fulfill(content_type="application/json", body=body),
        )
        page.goto(f"{demo.base_url}/return?session_id=cs_test_1")
        expect(page.locator("#state-complete")).to_contain_text(
            "A confirmation will be sent to your email address."
        )

    def test_an_api_error_is_shown_with_its_code(self, demo: Demo, browsing: Browsing) -> None:
        page = browsing.page
        page.goto(f"{demo.base_url}/return?session_id=cs_test_doesnotexist")
        state = page.locator("#state-error")
        expect(state).to_be_visible()
        expect(state.get_by_role("link", name="Back to checkout")).to_have_attribute("href", "/")
        expect(state.locator("#error-code")).to_be_visible()

    def test_a_link_without_a_session_id_explains_itself(
        self, demo: Demo, browsing: Browsing
    ) -> None:
        page = browsing.page
        page.goto(f"{demo.base_url}/return")
        state = page.locator("#state-error")
        expect(state.get_by_role("heading")).to_have_text(
            "This link is missing its order reference"
        )
        expect(state.get_by_role("link", name="Back to checkout")).to_have_attribute("href", "/")
        assert browsing.console_errors == []
