"""Serves the Embedded Checkout pages (`/`, `/return`) and their assets (`/static/{name}`).

The pages are a cleaned-up version of Stripe's Embedded Checkout quickstart client: plain HTML,
CSS and JS, no build step, no inline script or style, so the Content-Security-Policy below needs
neither 'unsafe-inline' nor 'unsafe-eval'.

Every file is read once, when the router is built. The publishable key is HTML-escaped into a
`<meta>` tag at that moment; the return page reads its Checkout Session id from the URL in the
browser, so no request data is ever written into the HTML.

Asset URLs in the HTML carry a content digest (`/static/checkout.js?v=<digest>`): a request with
the current digest may be cached for a year; any other request for the same file must revalidate
(ETag), so a deploy never leaves a browser on a stale script.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException, Request, Response

# Stripe.js is versioned by release train: https://js.stripe.com/<train>/stripe.js
# (docs.stripe.com/sdks/stripejs-versioning). `createEmbeddedCheckoutPage` is the Dahlia name
# for `initEmbeddedCheckout` (changelog 2026-03-25.dahlia "Renames Embedded Checkout
# initialization method"); on the Clover train and v3 only the old name exists.
STRIPE_JS_URL: Final = "https://js.stripe.com/dahlia/stripe.js"

# One policy for both pages. Each Stripe source comes from Stripe's integration security guide,
# section "Content Security Policy" (docs.stripe.com/security/guide#content-security-policy):
#   [js]        the list "If you're using Stripe.js"
#   [checkout]  the list "If you're using Checkout" (Embedded Checkout)
# 'self' is ours: /static/*.js and styles.css, the favicon, and the pages' fetch() calls to
# /checkoutsession and /session-status. The [js] list also names https://maps.googleapis.com
# (script-src, connect-src) for the Address Element's autocomplete; this page mounts no Address
# Element (Checkout's own address form runs inside Stripe's frame, under Stripe's policy), so it
# is left out on purpose.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; "
    # [js] https://js.stripe.com https://*.js.stripe.com; [checkout] https://checkout.stripe.com
    "script-src 'self' https://js.stripe.com https://*.js.stripe.com https://checkout.stripe.com; "
    # 'self' only: styles.css. Neither list asks for a style source.
    "style-src 'self'; "
    # [js] https://api.stripe.com; [checkout] https://checkout.stripe.com
    "connect-src 'self' https://api.stripe.com https://checkout.stripe.com; "
    # [js] https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com (3DS and
    # redirects); [checkout] https://checkout.stripe.com. No 'self': we frame nothing of ours.
    "frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com "
    "https://checkout.stripe.com; "
    # [checkout] https://*.stripe.com; 'self' for /static/favicon.svg
    "img-src 'self' https://*.stripe.com; "
    # Hardening, not from Stripe's lists: no plugins, no <base> hijack, forms post only here,
    # and nobody may frame the payment page (clickjacking).
    "object-src 'none'; "
    "base-uri 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)

# Headers on every HTML response. Referrer-Policy is the browser default, stated explicitly so
# the return page's `?session_id=cs_...` never leaves the origin in a Referer header. Payment
# Request (Apple Pay, Google Pay) may run in Stripe's frames only.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": 'payment=(self "https://js.stripe.com" "https://checkout.stripe.com")',
    "Cache-Control": "no-cache",
}

# The only files /static serves, with their content types. The HTML templates live in the same
# folder (package data) but are served only through `/` and `/return`.
STATIC_TYPES: Final = {
    "checkout.js": "text/javascript; charset=utf-8",
    "return.js": "text/javascript; charset=utf-8",
    "styles.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

STATIC_DIR: Final = Path(__file__).parent / "static"
IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "no-cache"


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    media_type: str
    digest: str

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'


def _load_assets() -> dict[str, _Asset]:
    assets = {}
    for name, media_type in STATIC_TYPES.items():
        body = (STATIC_DIR / name).read_bytes()
        assets[name] = _Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16])
    return assets


def _render(template: str, values: dict[str, str]) -> bytes:
    text = (STATIC_DIR / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        raise RuntimeError(
            f"{template}: unfilled placeholder near {text[text.index('{{') :][:40]!r}"
        )
    return text.encode("utf-8")


def build_pages_router(publishable_key: str) -> APIRouter:
    """Build the router serving `/`, `/return` and `/static/{name}` for this publishable key."""
    if not publishable_key.startswith(("pk_test_", "pk_live_")):
        # A secret key in a page would be published to every visitor: refuse anything else.
        raise ValueError("publishable_key must start with pk_test_ or pk_live_")

    assets = _load_assets()
    values = {
        "publishable_key": html.escape(publishable_key, quote=True),
        "stripe_js_url": STRIPE_JS_URL,
        **{f"asset:{name}": f"/static/{name}?v={asset.digest}" for name, asset in assets.items()},
    }
    checkout_page = _render("index.html", values)
    return_page = _render("return.html", values)

    router = APIRouter()

    @router.get("/", include_in_schema=False)
    async def checkout() -> Response:
        return Response(checkout_page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    @router.get("/return", include_in_schema=False)
    async def return_() -> Response:
        return Response(return_page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str, request: Request) -> Response:
        asset = assets.get(name)
        if asset is None:
            raise HTTPException(status_code=404)
        fresh = request.query_params.get("v") == asset.digest
        headers = {
            "Cache-Control": IMMUTABLE if fresh else REVALIDATE,
            "ETag": asset.etag,
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    return router
