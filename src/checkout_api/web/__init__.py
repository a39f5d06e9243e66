"""The browser side of Embedded Checkout: the checkout and return pages and their assets.

`build_pages_router(publishable_key)` is the one entry point; the app includes the router when a
publishable key is configured. Nothing here talks to Stripe or the database: the pages call the
service's own `/checkoutsession` and `/session-status` endpoints from the browser.
"""

from checkout_api.web.pages import CONTENT_SECURITY_POLICY, STRIPE_JS_URL, build_pages_router

__all__ = ["CONTENT_SECURITY_POLICY", "STRIPE_JS_URL", "build_pages_router"]
