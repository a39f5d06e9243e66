"""The checkout and return pages over ASGI, without a browser: markup, headers, CSP, assets."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from checkout_api.web import CONTENT_SECURITY_POLICY, STRIPE_JS_URL, build_pages_router
from checkout_api.web.pages import STATIC_TYPES

PAGES = ("/", "/return")

# The policy spelled out by hand: a change to pages.py must be made here too, on purpose.
EXPECTED_CSP = {
    "default-src": {"'self'"},
    "script-src": {
        "'self'",
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://checkout.stripe.com",
    },
    "style-src": {"'self'"},
    "connect-src": {"'self'", "https://api.stripe.com", "https://checkout.stripe.com"},
    "frame-src": {
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
        "https://checkout.stripe.com",
    },
    "img-src": {"'self'", "https://*.stripe.com"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def parse_csp(header: str) -> dict[str, set[str]]:
    directives: dict[str, set[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"directive {name} given twice"
        directives[name] = set(sources)
    return directives


class Element:
    def __init__(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tag = tag
        self.attrs = {name: value or "" for name, value in attrs}
        self.text = ""


class Markup(HTMLParser):
    """Every element with its attributes, and the text inside <script> and <style>."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: Element | None = None
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, attrs)
        self.elements.append(element)
        if tag in ("script", "style"):
            self._open = element

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag == self._open.tag:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.text += data

    def find(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == tag and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


def make_client(publishable_key: str = "pk_test_123") -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(build_pages_router(publishable_key))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    """The pages router alone, in a bare app (named apart from the root `client` fixture)."""
    async with make_client() as client:
        yield client


async def markup(client: httpx.AsyncClient, path: str) -> Markup:
    response = await client.get(path)
    assert response.status_code == 200
    return Markup(response.text)


class TestCheckoutPage:
    async def test_renders_as_html(self, web: httpx.AsyncClient) -> None:
        response = await web.get("/")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"

    async def test_publishable_key_is_in_the_meta_tag(self, web: httpx.AsyncClient) -> None:
        page = await markup(web, "/")
        (meta,) = page.find("meta", name="stripe-publishable-key")
        assert meta.attrs["content"] == "pk_test_123"

    async def test_publishable_key_is_escaped(self) -> None:
        hostile = 'pk_test_"><script>alert(1)</script>'
        async with make_client(hostile) as c:
            response = await c.get("/")
        assert "<script>alert(1)" not in response.text
        assert 'content="pk_test_&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text
        (meta,) = Markup(response.text).find("meta", name="stripe-publishable-key")
        assert meta.attrs["content"] == hostile

    async def test_loads_stripe_js_then_our_script(self, web: httpx.AsyncClient) -> None:
        page = await markup(web, "/")
        sources = [e.attrs["src"] for e in page.find("script")]
        assert sources[0] == STRIPE_JS_URL
        assert re.fullmatch(r"/static/checkout\.js\?v=[0-9a-f]{16}", sources[1])
        assert len(sources) == 2

    async def test_has_mount_point_and_live_regions(self, web: httpx.AsyncClient) -> None:
        page = await markup(web, "/")
        assert page.find("div", id="checkout")
        assert page.find("p", id="checkout-status", role="status")
        assert page.find("div", id="checkout-error", role="alert")


class TestReturnPage:
    async def test_renders_every_state_hidden(self, web: httpx.AsyncClient) -> None:
        page = await markup(web, "/return")
        states = {e.attrs["data-state"]: e for e in page.elements if "data-state" in e.attrs}
        assert set(states) == {"complete", "processing", "open", "expired", "error"}
        assert all("hidden" in e.attrs for e in states.values())

    async def test_does_not_load_stripe_js(self, web: httpx.AsyncClient) -> None:
        page = await markup(web, "/return")
        sources = [e.attrs["src"] for e in page.find("script")]
        assert len(sources) == 1
        assert re.fullmatch(r"/static/return\.js\?v=[0-9a-f]{16}", sources[0])

    async def test_open_and_expired_states_link_back_to_checkout(
        self, web: httpx.AsyncClient
    ) -> None:
        response = await web.get("/return")
        for state in ("open", "expired"):
            section = re.search(rf'data-state="{state}".*?</section>', response.text, re.S)
            assert section is not None
            assert 'href="/"' in section.group(0)

    async def test_query_is_not_reflected(self, web: httpx.AsyncClient) -> None:
        response = await web.get("/return", params={"session_id": "cs_<b>x</b>"})
        assert "cs_" not in response.text


@pytest.mark.parametrize("path", PAGES)
class TestMarkupForStrictCsp:
    async def test_every_script_is_external_and_empty(
        self, web: httpx.AsyncClient, path: str
    ) -> None:
        page = await markup(web, path)
        scripts = page.find("script")
        assert scripts
        for script in scripts:
            assert script.attrs.get("src"), "inline <script> needs 'unsafe-inline'"
            assert script.text.strip() == ""

    async def test_no_event_handler_or_style_attributes(
        self, web: httpx.AsyncClient, path: str
    ) -> None:
        page = await markup(web, path)
        for element in page.elements:
            assert not [a for a in element.attrs if a.startswith("on")], element.tag
            assert "style" not in element.attrs, element.tag
        assert not page.find("style")
        assert not [e for e in page.find("a") if e.attrs.get("href", "").startswith("javascript:")]

    async def test_accessible_skeleton(self, web: httpx.AsyncClient, path: str) -> None:
        page = await markup(web, path)
        assert page.find("html", lang="en")
        assert page.find("meta", name="viewport")
        assert len(page.find("main")) == 1
        assert page.find("header")
        assert page.find("footer")
        assert page.find("h1")
        assert page.find("title")

    async def test_every_local_asset_resolves(self, web: httpx.AsyncClient, path: str) -> None:
        page = await markup(web, path)
        urls = [e.attrs.get("src") or e.attrs.get("href", "") for e in page.elements]
        local = [u for u in urls if u.startswith("/static/")]
        assert len(local) >= 3
        for url in local:
            response = await web.get(url)
            assert response.status_code == 200, url
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", PAGES)
class TestSecurityHeaders:
    async def test_csp_is_exactly_the_documented_policy(
        self, web: httpx.AsyncClient, path: str
    ) -> None:
        response = await web.get(path)
        assert parse_csp(response.headers["content-security-policy"]) == EXPECTED_CSP
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY

    async def test_csp_has_no_unsafe_sources(self, web: httpx.AsyncClient, path: str) -> None:
        response = await web.get(path)
        policy = response.headers["content-security-policy"]
        assert "unsafe-" not in policy
        for source in policy.replace(";", " ").split():
            assert source not in ("*", "data:", "blob:", "http:", "https:"), source

    async def test_csp_allows_every_script_the_page_loads(
        self, web: httpx.AsyncClient, path: str
    ) -> None:
        response = await web.get(path)
        allowed = parse_csp(response.headers["content-security-policy"])["script-src"]
        for script in Markup(response.text).find("script"):
            parts = urlsplit(script.attrs["src"])
            origin = "'self'" if not parts.netloc else f"{parts.scheme}://{parts.netloc}"
            assert origin in allowed, script.attrs["src"]

    async def test_other_headers(self, web: httpx.AsyncClient, path: str) -> None:
        response = await web.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert response.headers["permissions-policy"] == (
            'payment=(self "https://js.stripe.com" "https://checkout.stripe.com")'
        )


class TestStatic:
    @pytest.mark.parametrize(
        ("name", "content_type"),
        [
            ("checkout.js", "text/javascript; charset=utf-8"),
            ("return.js", "text/javascript; charset=utf-8"),
            ("styles.css", "text/css; charset=utf-8"),
            ("favicon.svg", "image/svg+xml"),
        ],
    )
    async def test_serves_whitelisted_files(
        self, web: httpx.AsyncClient, name: str, content_type: str
    ) -> None:
        response = await web.get(f"/static/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == content_type
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-cache"
        assert re.fullmatch(r'"[0-9a-f]{16}"', response.headers["etag"])
        assert response.content

    def test_whitelist_is_the_tested_set(self) -> None:
        assert set(STATIC_TYPES) == {"checkout.js", "return.js", "styles.css", "favicon.svg"}

    async def test_current_digest_is_cached_for_a_year(self, web: httpx.AsyncClient) -> None:
        etag = (await web.get("/static/checkout.js")).headers["etag"].strip('"')
        fresh = await web.get("/static/checkout.js", params={"v": etag})
        stale = await web.get("/static/checkout.js", params={"v": "0" * 16})
        assert fresh.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert stale.headers["cache-control"] == "no-cache"

    async def test_matching_etag_answers_304(self, web: httpx.AsyncClient) -> None:
        etag = (await web.get("/static/styles.css")).headers["etag"]
        response = await web.get("/static/styles.css", headers={"If-None-Match": etag})
        assert response.status_code == 304
        assert response.content == b""

    @pytest.mark.parametrize(
        "name",
        [
            "index.html",
            "return.html",
            "nope.js",
            "pages.py",
            "..%2Fpages.py",
            "%2e%2e%2f__init__.py",
        ],
    )
    async def test_unknown_names_are_404(self, web: httpx.AsyncClient, name: str) -> None:
        response = await web.get(f"/static/{name}")
        assert response.status_code == 404

    async def test_routes_stay_out_of_the_openapi_schema(self) -> None:
        app = FastAPI()
        app.include_router(build_pages_router("pk_test_123"))
        assert app.openapi()["paths"] == {}


class TestBuild:
    @pytest.mark.parametrize("key", ["", "sk_test_123", "rk_live_123", "pk_123"])
    def test_refuses_anything_but_a_publishable_key(self, key: str) -> None:
        with pytest.raises(ValueError, match="pk_test_ or pk_live_"):
            build_pages_router(key)

    def test_accepts_live_key(self) -> None:
        build_pages_router("pk_live_123")
